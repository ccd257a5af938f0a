namespace FastTun.Gateway.Dataplane;

/// <summary>
/// One owner per interface: an exclusive flock(2) on /run/fasttun/net&lt;netns inode&gt;.&lt;interface&gt;.lock, held
/// for the gateway's life. A second gateway on the same interface of the same network namespace fails to take it
/// and refuses to start, naming the owner's PID, before it touches the interface. The kernel drops the lock when
/// the owner dies, however it dies (kill -9 included), so a dead owner never blocks the next start. Interface names
/// are per network namespace, so the namespace's inode is part of the name; /run itself is shared by all of them.
/// The file carries the owner's PID for people reading /run; the owner is found through /proc/locks.
/// </summary>
public sealed class InterfaceLock : IDisposable
{
    public const string DefaultDirectory = "/run/fasttun";

    private readonly FileStream _file;

    private InterfaceLock(string interfaceName, string path, FileStream file)
    {
        InterfaceName = interfaceName;
        Path = path;
        _file = file;
    }

    public string InterfaceName { get; }
    public string Path { get; }

    /// <summary>Takes the lock of <paramref name="interfaceName"/>, or throws <see cref="InvalidOperationException"/>
    /// naming the interface and the PID that holds it.</summary>
    public static InterfaceLock Acquire(string interfaceName, string directory = DefaultDirectory)
    {
        if (interfaceName.Length == 0 || interfaceName.Contains('/') || interfaceName is "." or "..")
            throw new ArgumentException($"'{interfaceName}' is not an interface name", nameof(interfaceName));
        // 0700 like the control socket's directory (the default socket lives here too): root's business only.
        if (!Directory.Exists(directory) && !OperatingSystem.IsWindows())
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string path = System.IO.Path.Combine(directory, $"net{NetnsInode()}.{interfaceName}.lock");
        FileStream file;
        try
        {
            // FileShare.None is flock(LOCK_EX | LOCK_NB) in .NET on Linux; the lock belongs to this open file.
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            int? owner = OwnerPid(path);
            throw new InvalidOperationException(
                $"{interfaceName} is owned by another FastTun gateway ({(owner is int pid ? $"PID {pid}" : "PID unknown")}, lock {path}); " +
                "stop it first: two gateways on one interface steal each other's traffic");
        }
        file.SetLength(0);
        var pidText = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
        file.Write(pidText);
        file.Flush();
        return new InterfaceLock(interfaceName, path, file);
    }

    /// <summary>The inode of this process's network namespace (/proc/self/ns/net → "net:[4026531840]").</summary>
    public static string NetnsInode()
    {
        string? target = new FileInfo("/proc/self/ns/net").LinkTarget;
        if (target is null) return "0";
        int open = target.IndexOf('['), close = target.IndexOf(']');
        return open >= 0 && close > open ? target[(open + 1)..close] : "0";
    }

    /// <summary>The PID holding an flock on <paramref name="path"/>: the /proc/locks FLOCK holder that has the file
    /// open. Null when none is found (it just exited, or /proc is not readable).</summary>
    public static int? OwnerPid(string path)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/locks"))
            {
                // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 5 || f[1] != "FLOCK" || !int.TryParse(f[4], out int pid)) continue;
                if (HoldsOpen(pid, path)) return pid;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    private static bool HoldsOpen(int pid, string path)
    {
        try
        {
            foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
                if (new FileInfo(fd).LinkTarget == path) return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return false;
    }

    /// <summary>Releases the lock (closing the file drops it). The file stays: removing it would race with the
    /// next owner opening it.</summary>
    public void Dispose() => _file.Dispose();
}
