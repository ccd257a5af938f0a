namespace FastTun.Gateway.Config;

/// <summary>The three ways a gateway configuration can be written; all build the same model.</summary>
public enum ConfigFormat
{
    /// <summary>VyOS <c>set</c> lines, as <c>show configuration commands</c> prints them.</summary>
    Set,
    /// <summary>VyOS <c>config.boot</c>: nodes in braces.</summary>
    Boot,
    /// <summary>A script of <c>ip tunnel/addr/link/route</c> commands.</summary>
    Iproute2,
}

public static class ConfigFormats
{
    public static bool TryParse(string text, out ConfigFormat format)
    {
        switch (text)
        {
            case "set" or "commands": format = ConfigFormat.Set; return true;
            case "boot" or "config.boot": format = ConfigFormat.Boot; return true;
            case "iproute2" or "ip": format = ConfigFormat.Iproute2; return true;
            default: format = default; return false;
        }
    }

    public static string Name(ConfigFormat format) => format switch
    {
        ConfigFormat.Boot => "boot",
        ConfigFormat.Iproute2 => "iproute2",
        _ => "set",
    };

    /// <summary>
    /// Detects the format by content: any <c>ip ...</c> command (also after <c>ip netns exec NS</c> or a
    /// <c>$</c> prompt) makes it iproute2; otherwise a line that opens a node with <c>{</c> makes it config.boot;
    /// otherwise set lines. Comments and blank lines do not count.
    /// </summary>
    public static ConfigFormat Detect(string text)
    {
        bool braces = false;
        using var reader = new StringReader(text);
        string? line;
        while ((line = reader.ReadLine()) != null)
        {
            string t = line.Trim();
            if (t.Length == 0 || t[0] == '#' || t.StartsWith("/*", StringComparison.Ordinal)) continue;
            if (t[0] == '$') t = t[1..].TrimStart();
            // "ip {" is a config.boot node (parameters { ip { ... } }), not a command.
            if ((t.StartsWith("ip ", StringComparison.Ordinal) && !t.EndsWith('{')) || t.StartsWith("modprobe ", StringComparison.Ordinal))
                return ConfigFormat.Iproute2;
            if (t.EndsWith('{')) braces = true;
        }
        return braces ? ConfigFormat.Boot : ConfigFormat.Set;
    }
}
