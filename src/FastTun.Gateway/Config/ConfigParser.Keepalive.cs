namespace FastTun.Gateway.Config;

internal sealed partial class ConfigParser
{
    /// <summary>Cisco IOS's ranges for <c>keepalive PERIOD RETRIES</c> on a tunnel interface.</summary>
    internal const int MaxKeepaliveInterval = 32767, MaxKeepaliveRetries = 255;

    /// <summary><c>set interfaces tunnel tunN parameters keepalive INTERVAL RETRIES</c>: a GRE keepalive every
    /// INTERVAL seconds; RETRIES unanswered in a row take the tunnel down (checked against the encapsulation by
    /// the validator).</summary>
    private void TunnelKeepalive(TunnelDraft tun, List<string> w)
    {
        if (w.Count != 8)
        {
            Error($"keepalive takes an interval in seconds and a retry count (parameters keepalive 10 3): {_text}");
            return;
        }
        if (!TryInt(w[6], 1, MaxKeepaliveInterval, "keepalive interval (seconds)", out int interval)) return;
        if (!TryInt(w[7], 1, MaxKeepaliveRetries, "keepalive retries", out int retries)) return;
        Set(ref tun.Keepalive, new KeepaliveSettings(interval, retries), $"{w[6]} {w[7]}", $"tunnel {tun.Name} parameters keepalive");
    }
}
