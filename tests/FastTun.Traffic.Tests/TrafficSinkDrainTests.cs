using System.Runtime.InteropServices;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;
using FastTun.Traffic;
using Xunit;

namespace FastTun.Traffic.Tests;

/// <summary>A stopped sink counts what its ring already holds before it reports (a script stops it once the generator has
/// finished), and still reports when a flood keeps the ring full.</summary>
public class TrafficSinkDrainTests
{
    /// <summary>A port whose "ring" holds <c>pending</c> frames (endless when negative); each is 60 zero bytes.</summary>
    private sealed unsafe class QueuedPort : PacketPort
    {
        private readonly nint _buffer = (nint)NativeMemory.AllocZeroed(2048);
        private long _pending;

        public QueuedPort(long pending) : base("queued", 0, 0) => _pending = pending;

        public long Pending => _pending;
        public override int PollFd => -1; // poll(2) ignores it and only waits its timeout
        public override int Headroom => 64;

        public override int RxBurst(PacketBatch batch)
        {
            int n = 0;
            while (!batch.IsFull && _pending != 0)
            {
                ref Frame f = ref batch.Add();
                f = new Frame { Buffer = _buffer, Offset = 64, Length = 60, Capacity = 2048, InPort = Id };
                if (_pending > 0) _pending--;
                n++;
            }
            return n;
        }

        public override int TxBurst(PacketBatch batch) => 0;
        public override void RxDone(PacketBatch batch) { }
        protected override void Dispose(bool disposing) => NativeMemory.Free((void*)_buffer);
    }

    [Fact]
    public void Run_StoppedWithFramesInTheRing_CountsThemAll()
    {
        using var port = new QueuedPort(1000);
        using var sink = new TrafficSink(port, new byte[6]);
        var result = sink.Run(TimeSpan.Zero, () => true); // the stop is already there at the first check
        Assert.Equal(1000, result.Frames);
        Assert.Equal(0, port.Pending);
    }

    [Fact]
    public async Task Run_StoppedUnderAFloodThatNeverEnds_StillReports()
    {
        using var port = new QueuedPort(-1);
        using var sink = new TrafficSink(port, new byte[6]);
        // WaitAsync throws TimeoutException if the drain never ends (a bound on a hang, not a timing measurement).
        var result = await Task.Run(() => sink.Run(TimeSpan.Zero, () => true)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(result.Frames > 0);
    }
}
