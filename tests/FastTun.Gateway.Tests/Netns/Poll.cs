namespace FastTun.Gateway.Tests.Netns;

/// <summary>Polling for what a process writes or counts on its own schedule (a gateway's log goes through the console logger's
/// background thread; a command reports when it ends).</summary>
public static class Poll
{
    /// <summary><paramref name="read"/>'s text once it contains every one of <paramref name="texts"/> (read again every
    /// 100 ms, up to <paramref name="seconds"/>); after that, the last reading, and the caller's assertion names what is
    /// missing.</summary>
    public static string UntilContains(Func<string> read, double seconds, params string[] texts) =>
        Until(read, text => texts.All(t => text.Contains(t, StringComparison.Ordinal)), seconds);

    /// <summary><paramref name="read"/>'s value once <paramref name="done"/> holds for it (read again every 100 ms, up to
    /// <paramref name="seconds"/>); after that, the last reading, for the caller's assertion to name what is missing.</summary>
    public static T Until<T>(Func<T> read, Func<T, bool> done, double seconds)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            T value = read();
            if (done(value) || DateTime.UtcNow >= deadline) return value;
            Thread.Sleep(100);
        }
    }
}
