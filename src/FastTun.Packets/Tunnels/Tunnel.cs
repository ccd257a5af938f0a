using System.Buffers.Binary;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// Runtime state of one tunnel: its settings, the outer header template built once, the next IP ID, the GRE
/// sequence numbers and the per-tunnel counters. The data path mutates it without locks, so a tunnel's
/// transmit side and its receive side each belong to one worker at a time.
/// </summary>
public sealed class Tunnel
{
    /// <summary>Outer IPv4 (20) + GRE header bytes with every constant field filled: version/IHL, protocol,
    /// addresses, GRE flags, protocol type and key. Checksum and sequence fields are zero. Encapsulation writes
    /// the same bytes from the words below (fixed-size stores instead of a variable-length copy).</summary>
    internal readonly byte[] Template;
    /// <summary>One's-complement partial sum of the constant outer IPv4 words (version/IHL, protocol,
    /// addresses), so the per-packet header checksum only adds the five words that change.</summary>
    internal readonly uint ConstantHeaderSum;
    /// <summary>Outer source and destination (host order) and protocol, as written at offsets 12, 16 and 9.</summary>
    internal readonly uint Local, Remote;
    internal readonly byte Protocol;
    /// <summary>GRE flags and protocol type (first GRE word), or 0 for IPIP.</summary>
    internal readonly uint GreWord0;
    internal readonly uint OutputKey;
    /// <summary>Offsets from the start of the outer header of the GRE key and sequence fields, 0 when not sent.</summary>
    internal readonly int KeyFieldOffset;
    internal readonly int SequenceFieldOffset;
    /// <summary>Fixed DSCP bits (ECN bits clear) when TOS is not inherited.</summary>
    internal readonly byte FixedDscp;
    internal readonly bool TosInherit;
    internal readonly byte FixedTtl;
    internal readonly bool PmtuDiscovery;
    internal readonly bool OutputChecksum;
    internal readonly bool InputChecksum;
    internal readonly bool InputSequence;

    private ushort _nextId;
    private uint _txSequence;
    /// <summary>Linux's i_seqno: last accepted sequence + 1, or 0 before the first (then anything is accepted).</summary>
    private uint _rxNextSequence;

    internal long _encapPackets, _encapBytes, _decapPackets, _decapBytes;

    public Tunnel(TunnelSettings settings) : this(settings, (ushort)Random.Shared.Next(1, 0x10000)) { }

    internal Tunnel(TunnelSettings settings, ushort firstId)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        HeaderLength = settings.Overhead;
        _nextId = firstId == 0 ? (ushort)1 : firstId;
        TosInherit = settings.Tos.Inherit;
        FixedDscp = (byte)(settings.Tos.Value & ~Ipv4Header.EcnMask);
        FixedTtl = settings.Ttl;
        PmtuDiscovery = settings.PmtuDiscovery;
        OutputChecksum = settings.OutputChecksum;
        InputChecksum = settings.InputChecksum;
        InputSequence = settings.InputSequence;

        Local = settings.Local;
        Remote = settings.Remote;
        Protocol = settings.Protocol;
        Template = new byte[HeaderLength];
        Ipv4Header.Write(Template, 0, 0, 0, 0, 0, settings.Protocol, settings.Local, settings.Remote);
        BinaryPrimitives.WriteUInt16BigEndian(Template.AsSpan(Ipv4Header.ChecksumOffset), 0);
        ConstantHeaderSum = 0x4500u + settings.Protocol
            + (settings.Local >> 16) + (settings.Local & 0xFFFF) + (settings.Remote >> 16) + (settings.Remote & 0xFFFF);
        if (settings.Mode == TunnelMode.Gre)
        {
            GreHeader.Write(Template.AsSpan(Ipv4Header.MinLength), GreHeader.ProtocolIPv4, settings.OutputChecksum,
                settings.OutputKey, settings.OutputSequence ? 0u : null);
            GreWord0 = BinaryPrimitives.ReadUInt32BigEndian(Template.AsSpan(Ipv4Header.MinLength));
            OutputKey = settings.OutputKey ?? 0;
            if (settings.OutputKey.HasValue)
                KeyFieldOffset = Ipv4Header.MinLength + GreHeader.OptionsOffset + (settings.OutputChecksum ? 4 : 0);
            if (settings.OutputSequence)
                SequenceFieldOffset = HeaderLength - 4;
        }
    }

    public TunnelSettings Settings { get; }
    public string Name => Settings.Name;
    /// <summary>Bytes encapsulation prepends (outer IPv4 + GRE).</summary>
    public int HeaderLength { get; }

    /// <summary>Packets and inner bytes sent into the tunnel.</summary>
    public long EncapPackets => _encapPackets;
    public long EncapBytes => _encapBytes;
    /// <summary>Packets and inner bytes received from the tunnel and accepted.</summary>
    public long DecapPackets => _decapPackets;
    public long DecapBytes => _decapBytes;

    /// <summary>The next outer IP ID: non-zero and different from the previous one.</summary>
    internal ushort NextId()
    {
        ushort id = _nextId;
        ushort next = (ushort)(id + 1);
        _nextId = next == 0 ? (ushort)1 : next;
        return id;
    }

    /// <summary>The GRE sequence number for the next packet: 0 first, then +1, as Linux's o_seqno. Not atomic:
    /// a sequenced tunnel must be sent by one worker anyway, since packets two workers interleave reach the
    /// peer out of order and it drops the late ones as old.</summary>
    internal uint NextTxSequence() => _txSequence++;

    /// <summary>
    /// Linux ip_tunnel_rcv: with input sequencing, a number older than or equal to the last accepted one
    /// (serial-number arithmetic, RFC 1982) is rejected; gaps are accepted. Accepting records it.
    /// </summary>
    internal bool AcceptSequence(uint sequence)
    {
        if (_rxNextSequence != 0 && (int)(sequence - _rxNextSequence) < 0) return false;
        _rxNextSequence = sequence + 1;
        return true;
    }

    /// <summary>Sets the next outer IP ID (tests build byte-exact golden frames with it).</summary>
    internal void SetNextId(ushort id) => _nextId = id == 0 ? (ushort)1 : id;

    public override string ToString() => Settings.ToString();
}
