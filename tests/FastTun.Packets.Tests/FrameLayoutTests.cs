using System.Runtime.CompilerServices;
using FastTun.Packets.Datapath;

namespace FastTun.Packets.Tests;

/// <summary>UmemPort.RxBurst writes a descriptor in 8-byte stores that span neighbouring fields: the layout they
/// assume is pinned here.</summary>
public class FrameLayoutTests
{
    [Fact]
    public void Frame_FieldOffsets_AsRxBurstWritesThem()
    {
        var f = new Frame();
        ref byte b = ref Unsafe.As<Frame, byte>(ref f);
        Assert.Equal(40, Unsafe.SizeOf<Frame>());
        Assert.Equal(0, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<nint, byte>(ref f.Buffer)));
        Assert.Equal(8, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<ulong, byte>(ref f.Handle)));
        Assert.Equal(16, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<int, byte>(ref f.Offset)));
        Assert.Equal(20, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<int, byte>(ref f.Length)));
        Assert.Equal(24, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<int, byte>(ref f.Capacity)));
        Assert.Equal(28, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<ushort, byte>(ref f.InPort)));
        Assert.Equal(30, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<ushort, byte>(ref f.OutPort)));
        Assert.Equal(32, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<DropReason, byte>(ref f.Drop)));
        Assert.Equal(34, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<FrameFlags, byte>(ref f.Flags)));
        Assert.Equal(36, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<uint, byte>(ref f.Scratch)));
    }
}
