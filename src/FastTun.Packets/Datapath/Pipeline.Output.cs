using System.Runtime.CompilerServices;

namespace FastTun.Packets.Datapath;

/// <summary>
/// Wire order. A frame the pipeline builds while it processes a batch (fragments, ICMP errors, ARP, packets
/// released from the pending queue) carries an order key: 0 for "before the batch", i + 1 for "right after rx
/// frame i" (the packet it comes from, which it usually replaces). The output batch lists the frames to send by
/// key, rx frames and built frames interleaved, built frames of one key in the order they were built, so the
/// fragments of a datagram leave in offset order before any later packet of the batch.
/// </summary>
public sealed partial class Pipeline
{
    private readonly PacketBatch _output;
    /// <summary>For each output frame, the rx batch index it is a copy of, or −1 for a built frame.</summary>
    private readonly int[] _outputSource;
    private bool _outputBuilt;

    private bool GeneratedFull => Generated.Count >= _genLimit;

    /// <summary>Appends a frame to <see cref="Generated"/> with the current order key; the caller has checked
    /// <see cref="GeneratedFull"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Frame AddGenerated()
    {
        _genKey[Generated.Count] = _anchor;
        return ref Generated.Add();
    }

    /// <summary>Keys the frames a callee appended to <see cref="Generated"/> directly (the fragmenter).</summary>
    private void KeyGenerated(int from)
    {
        for (int g = from; g < Generated.Count; g++) _genKey[g] = _anchor;
    }

    /// <summary>Counts the drops of the frames built since <paramref name="from"/>.</summary>
    private void CountGenerated(int from)
    {
        for (int g = from; g < Generated.Count; g++)
        {
            ref Frame f = ref Generated[g];
            if (f.Drop != DropReason.None) Counters.Drop(f.Drop);
        }
    }

    /// <summary>The batch to transmit: the rx batch when nothing was built, else rx and built frames merged by
    /// order key (a stable merge; built frames were appended in key order except across passes).</summary>
    private PacketBatch BuildOutput(PacketBatch batch, int genStart)
    {
        _outputBuilt = false;
        int built = Generated.Count - genStart;
        if (built == 0) return batch;
        Span<int> order = stackalloc int[built];
        for (int g = 0; g < built; g++) order[g] = genStart + g;
        // Stable insertion sort by key: short and almost sorted (passes 3 to 5 each append in arrival order).
        for (int a = 1; a < built; a++)
        {
            int item = order[a];
            int key = _genKey[item];
            int b = a - 1;
            while (b >= 0 && _genKey[order[b]] > key)
            {
                order[b + 1] = order[b];
                b--;
            }
            order[b + 1] = item;
        }

        var output = _output;
        output.Clear();
        int next = 0;
        next = AppendBuilt(order, next, 0);
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            if (f.OutPort != PacketBatch.NoPort && f.Drop == DropReason.None)
            {
                _outputSource[output.Count] = i;
                output.Add() = f;
            }
            next = AppendBuilt(order, next, i + 1);
        }
        _outputBuilt = true;
        return output;
    }

    private int AppendBuilt(Span<int> order, int next, int key)
    {
        while (next < order.Length && _genKey[order[next]] <= key)
        {
            ref Frame g = ref Generated[order[next]];
            if (g.OutPort != PacketBatch.NoPort && g.Drop == DropReason.None)
            {
                _outputSource[_output.Count] = -1;
                _output.Add() = g;
            }
            next++;
        }
        return next;
    }

    /// <summary>
    /// After the worker transmitted what <see cref="Process"/> returned: copies what the ports recorded on the
    /// output copies (a zero-copy TxBurst's <see cref="FrameFlags.TxOwned"/>, a tx drop) back to the rx frames,
    /// so RxDone on <paramref name="batch"/> leaves the frames a port kept, then frees the built frames.
    /// </summary>
    public void Transmitted(PacketBatch batch)
    {
        if (_outputBuilt)
        {
            var output = _output;
            for (int j = 0; j < output.Count; j++)
            {
                int source = _outputSource[j];
                if (source < 0 || source >= batch.Count) continue;
                ref Frame f = ref batch[source];
                f.Flags = output[j].Flags;
                f.Drop = output[j].Drop;
            }
            output.Clear();
            _outputBuilt = false;
        }
        ReleaseGenerated();
    }
}
