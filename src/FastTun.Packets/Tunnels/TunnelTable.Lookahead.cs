using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using FastTun.Packets.Datapath;

namespace FastTun.Packets.Tunnels;

public sealed partial class TunnelTable
{
    /// <summary>
    /// A batch's two-stage table lookahead for a hub (a table of <see cref="PrefetchSlots"/> or more): while packet i
    /// is decapsulated, packet i + <see cref="Far"/> has its slot line asked for (stage 1, from the hash alone), and
    /// packet i + <see cref="Near"/>, whose slot line has had <see cref="Far"/> − <see cref="Near"/> packets' time to
    /// arrive, is looked up and has the worker's decap counter entry asked for (stage 2; with <c>iseq</c>, its tunnel
    /// object too). <see cref="Next"/> hands packet i's slot index (or −1: no tunnel) to the decapsulation, which then
    /// does not probe the table again: a packet's lookup is made once, and neither of the two lines a hub's decap
    /// touches outside the packet (slot, counter entry) is waited for. Below <see cref="PrefetchSlots"/> it does
    /// nothing and every index is <see cref="TunnelDecap.NotLookedUp"/> (a small table stays in the core's cache).
    /// <para>The index answers <see cref="IndexOf"/> for the key <see cref="TryReadKey"/> reads, which is the key the
    /// receive path reads (tests hold the two together), so the receive checks still run in Linux order; a packet it
    /// cannot read (not IPIP/GRE, too short) or already dropped gets <see cref="TunnelDecap.NotLookedUp"/>.</para>
    /// </summary>
    internal ref struct Lookahead
    {
        /// <summary>Packets ahead whose slot line stage 1 asks for.</summary>
        public const int Far = 8;
        /// <summary>Packets ahead that stage 2 looks up.</summary>
        public const int Near = 4;

        private readonly Slot[] _slots;
        private readonly ReadOnlySpan<Frame> _frames;
        private readonly nint _workerOffset;
        private readonly bool _on;
        private IndexRing _ring;

        /// <summary>Entries of the ring of looked-up indices (a power of two, at least <see cref="Near"/>).</summary>
        private const int RingSize = 8;

        [InlineArray(RingSize)]
        private struct IndexRing
        {
            private int _element;
        }

        /// <summary>Starts the stages for the first packets of <paramref name="frames"/>; <paramref name="worker"/> is
        /// below the table's <see cref="CounterWorkers"/> (the caller checks once per batch).</summary>
        public Lookahead(Slot[] slots, ReadOnlySpan<Frame> frames, int worker)
        {
            _slots = slots;
            _frames = frames;
            _workerOffset = worker * (nint)DecapCounterStore.WorkerStride;
            _on = slots.Length >= PrefetchSlots && Sse.IsSupported;
            if (!_on) return;
            for (int j = 0; j < Math.Min(Far, frames.Length); j++) Prefetch(frames[j]);
            for (int j = 0; j < Math.Min(Near, frames.Length); j++) _ring[j] = Probe(frames[j]);
        }

        /// <summary>Packet <paramref name="i"/>'s slot index (−1: no tunnel) or <see cref="TunnelDecap.NotLookedUp"/>,
        /// and the stages for the packets <see cref="Near"/> and <see cref="Far"/> places on. Called for i = 0, 1, …
        /// in order, once each.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Next(int i)
        {
            if (!_on) return TunnelDecap.NotLookedUp;
            int index = _ring[i & (RingSize - 1)];
            if (i + Far < _frames.Length) Prefetch(_frames[i + Far]);
            if (i + Near < _frames.Length) _ring[(i + Near) & (RingSize - 1)] = Probe(_frames[i + Near]);
            return index;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Prefetch(in Frame f)
        {
            if (f.Drop == DropReason.None) PrefetchPacket(_slots, f.Data);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly unsafe int Probe(in Frame f)
        {
            if (f.Drop != DropReason.None
                || !TryReadKey(f.Data, out uint source, out uint destination, out byte protocol, out bool hasKey, out uint key))
                return TunnelDecap.NotLookedUp;
            int i = IndexOf(_slots, source, destination, protocol, hasKey, key);
            if (i >= 0)
            {
                ref Slot s = ref _slots[i];
                Sse.Prefetch0((void*)(s.Counters + _workerOffset));
                if (s.InputSequence)
                {
                    // A pointer into a movable object, used only as a hint: if the GC moves it first, the prefetch is wasted.
                    Tunnel t = s.Tunnel!;
                    Sse.Prefetch0((void*)Unsafe.As<Tunnel, nint>(ref t));
                }
            }
            return i;
        }
    }
}
