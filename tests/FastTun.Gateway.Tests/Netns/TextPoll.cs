namespace FastTun.Gateway.Tests.Netns;

/// <summary>Polling for text that a process writes on its own schedule (a gateway's log goes through the console logger's
/// background thread; a command reports when it ends).</summary>
public static class TextPoll
{
    /// <summary><paramref name="read"/>'s text once it contains every one of <paramref name="texts"/> (read again every
    /// 100 ms, up to <paramref name="seconds"/>); after that, the last reading, and the caller's assertion names what is
    /// missing.</summary>
    public static string UntilContains(Func<string> read, double seconds, params string[] texts)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            string text = read();
            if (texts.All(t => text.Contains(t, StringComparison.Ordinal)) || DateTime.UtcNow >= deadline) return text;
            Thread.Sleep(100);
        }
    }
}
