using System.Runtime.CompilerServices;

namespace FastTun.Packets.Datapath;

/// <summary>
/// One worker's side of a running capture: which point, which interface, and the ring it fills. The pipeline
/// reads its tap once per batch (<see cref="Pipeline.Capture"/>); with none installed the data path pays that
/// one load and a null test per batch, and a null test per decap/encap. Interface ids: ports keep their id;
/// tunnel <c>t</c> is <c>PortCount + t</c> (decap and encap carry raw IPv4, not Ethernet).
/// </summary>
public sealed class CaptureTap
{
    public const int AnyInterface = -1;

    private readonly nint[] _rxBuffer = new nint[PacketBatch.MaxCapacity];
    private readonly int[] _rxOffset = new int[PacketBatch.MaxCapacity];
    private readonly int[] _rxLength = new int[PacketBatch.MaxCapacity];
    private readonly int _portCount;

    public CaptureTap(CapturePoint point, int interfaceFilter, int portCount, CaptureRing ring)
    {
        Point = point;
        InterfaceFilter = interfaceFilter;
        _portCount = portCount;
        Ring = ring;
    }

    public CapturePoint Point { get; }
    public int InterfaceFilter { get; }
    public CaptureRing Ring { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Wants(int interfaceId) => InterfaceFilter == AnyInterface || InterfaceFilter == interfaceId;

    private static long Now() => DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks;

    /// <summary>Before the stages: rx frames are copied; for the drop point, where each frame's bytes start is
    /// remembered, so a dropped frame is captured as it arrived even after stages trimmed its headers.</summary>
    public void BeforeStages(PacketBatch batch)
    {
        if (Point == CapturePoint.Rx)
        {
            long now = Now();
            for (int i = 0; i < batch.Count; i++)
            {
                ref Frame f = ref batch[i];
                if (Wants(f.InPort)) Ring.TryWrite(f.Data, f.InPort, DropReason.None, now);
            }
        }
        else if (Point == CapturePoint.Drop)
        {
            for (int i = 0; i < batch.Count; i++)
            {
                ref Frame f = ref batch[i];
                _rxBuffer[i] = f.Buffer;
                _rxOffset[i] = f.Offset;
                _rxLength[i] = f.Length;
            }
        }
    }

    /// <summary>After the stages: dropped frames (drop point) or frames leaving (tx point).</summary>
    public unsafe void AfterStages(PacketBatch batch, PacketBatch generated)
    {
        if (Point == CapturePoint.Drop)
        {
            long now = Now();
            for (int i = 0; i < batch.Count; i++)
            {
                ref Frame f = ref batch[i];
                if (f.Drop == DropReason.None || !Wants(f.InPort)) continue;
                // The rx bytes where they were, unless a stage moved the frame into another buffer (reassembly).
                var data = f.Buffer == _rxBuffer[i] ? new ReadOnlySpan<byte>((byte*)f.Buffer + _rxOffset[i], _rxLength[i]) : f.Data;
                Ring.TryWrite(data, f.InPort, f.Drop, now);
            }
        }
        else if (Point == CapturePoint.Tx)
        {
            CaptureLeaving(batch);
            CaptureLeaving(generated);
        }
    }

    /// <summary>Frames the gateway built outside a batch (timers: ARP retransmissions, released packets).</summary>
    public void Generated(PacketBatch generated)
    {
        if (Point == CapturePoint.Tx) CaptureLeaving(generated);
    }

    private void CaptureLeaving(PacketBatch batch)
    {
        long now = Now();
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            if (f.Drop != DropReason.None || f.OutPort == PacketBatch.NoPort || !Wants(f.OutPort)) continue;
            Ring.TryWrite(f.Data, f.OutPort, DropReason.None, now);
        }
    }

    public void Decapsulated(ReadOnlySpan<byte> inner, int tunnelIndex)
    {
        int id = _portCount + tunnelIndex;
        if (Point == CapturePoint.Decap && Wants(id)) Ring.TryWrite(inner, (ushort)id, DropReason.None, Now());
    }

    public void Encapsulated(ReadOnlySpan<byte> outer, int tunnelIndex)
    {
        int id = _portCount + tunnelIndex;
        if (Point == CapturePoint.Encap && Wants(id)) Ring.TryWrite(outer, (ushort)id, DropReason.None, Now());
    }
}
