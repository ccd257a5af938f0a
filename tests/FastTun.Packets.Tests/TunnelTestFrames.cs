using FastTun.Packets.Datapath;

namespace FastTun.Packets.Tests;

/// <summary>Frames in <see cref="FramePool"/> buffers for tunnel tests.</summary>
public sealed class TunnelTestFrames : IDisposable
{
    private readonly FramePool _pool = new(256, 2048, 128);

    /// <summary>A frame whose data is a copy of <paramref name="bytes"/> behind <paramref name="headroom"/> bytes.</summary>
    public Frame Load(ReadOnlySpan<byte> bytes, int headroom = 128)
    {
        Frame f = default;
        if (!_pool.TryRent(ref f)) throw new InvalidOperationException("test pool exhausted");
        f.Offset = headroom;
        f.Length = bytes.Length;
        bytes.CopyTo(f.Data);
        return f;
    }

    public void Return(in Frame f) => _pool.Return(f);

    public void Dispose() => _pool.Dispose();
}
