using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Control;

/// <summary>What a request produced: the answer line, and for a streaming command (capture) what to write after it.</summary>
/// <param name="Abort">Called instead of <paramref name="Stream"/> when the answer line cannot be delivered, to
/// release what the request reserved.</param>
public sealed record ControlReply(JsonObject Body, Action<Stream, CancellationToken>? Stream = null, Action? Abort = null);

/// <summary>
/// The control socket: a Unix stream socket, mode 0600 in a directory created 0700, root peers only
/// (SO_PEERCRED). One accept thread blocks in accept(2); each connection gets its own thread that blocks in
/// read(2). None of this runs on a worker, and a request does a little control-plane work (a snapshot of
/// counters, one route insert), so answers come back in well under a millisecond even while the workers are
/// saturated. A malformed request gets an error line; an exception in a handler becomes an error line too,
/// so nothing a client sends can stop the data plane.
/// </summary>
public sealed class ControlServer : IDisposable
{
    /// <summary>Connections served at once; more are told so and closed (a stuck client cannot pile up threads).</summary>
    public const int MaxConnections = 16;

    private readonly Func<JsonObject, ControlReply> _handler;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly Thread _acceptThread;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Socket> _clients = new();
    private volatile bool _disposed;

    public ControlServer(string path, Func<JsonObject, ControlReply> handler, ILogger logger)
    {
        Path = path;
        _handler = handler;
        _logger = logger;
        _listener = Listen(path, logger);
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "fasttun-control" };
        _acceptThread.Start();
    }

    public string Path { get; }

    /// <summary>Creates the socket file. A live socket at the path (another gateway) is an error; a stale file
    /// left by a crash is replaced.</summary>
    private static Socket Listen(string path, ILogger logger)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("the control socket needs Unix file modes");
        string? dir = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (File.Exists(path))
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new InvalidOperationException($"control socket {path} is in use by another fasttun; give this one --control-socket PATH");
            }
            catch (SocketException)
            {
                File.Delete(path);
                logger.LogInformation("removed stale control socket {Path}", path);
            }
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite); // 0600: root only
            listener.Listen(MaxConnections);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private void AcceptLoop()
    {
        ControlThreadPriority.Raise();
        while (!_disposed)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_disposed) return;
                _logger.LogWarning("control socket accept failed: {Error}", e.Message);
                Thread.Sleep(100);
                continue;
            }
            lock (_clients)
            {
                if (_clients.Count >= MaxConnections)
                {
                    TrySend(client, ControlProtocol.Error($"too many control connections (limit {MaxConnections}); try again"));
                    client.Dispose();
                    continue;
                }
                _clients.Add(client);
            }
            new Thread(() => Serve(client)) { IsBackground = true, Name = "fasttun-control-client" }.Start();
        }
    }

    private void Serve(Socket client)
    {
        ControlThreadPriority.Raise();
        try
        {
            var peer = PeerCredentials.Read(client);
            if (!peer.IsRoot)
            {
                _logger.LogWarning("control socket: refused uid {Uid} (pid {Pid})", peer.Uid, peer.Pid);
                TrySend(client, ControlProtocol.Error(peer.RefusalMessage));
                return;
            }
            using var stream = new NetworkStream(client, ownsSocket: false);
            using var input = new BufferedStream(stream, 4096); // requests are read up to each newline from here
            while (!_disposed)
            {
                string? line = ControlProtocol.ReadLine(input);
                if (line is null) return;
                if (line.Length == 0) continue;
                var reply = Handle(line);
                try
                {
                    stream.Write(ControlProtocol.Line(reply.Body));
                }
                catch
                {
                    reply.Abort?.Invoke();
                    throw;
                }
                if (reply.Stream is not null)
                {
                    reply.Stream(stream, _stopping.Token);
                    return; // a stream ends the conversation
                }
            }
        }
        catch (InvalidDataException e)
        {
            TrySend(client, ControlProtocol.Error(e.Message));
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away mid-answer: nothing to tell it.
        }
        finally
        {
            lock (_clients) _clients.Remove(client);
            client.Dispose();
        }
    }

    /// <summary>Parses and runs one request. Never throws: every failure becomes an error answer.</summary>
    public ControlReply Handle(string line)
    {
        JsonObject request;
        try
        {
            request = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException e)
        {
            return new ControlReply(ControlProtocol.Error($"bad request: not a JSON object ({e.Message})"));
        }
        try
        {
            return _handler(request);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or KeyNotFoundException
                                   or IOException or Config.ConfigException)
        {
            return new ControlReply(ControlProtocol.Error(e.Message));
        }
        catch (Exception e)
        {
            _logger.LogError(e, "control request failed: {Request}", line);
            return new ControlReply(ControlProtocol.Error($"internal error: {e.GetType().Name}: {e.Message}"));
        }
    }

    private static void TrySend(Socket client, JsonObject body)
    {
        try
        {
            client.Send(ControlProtocol.Line(body));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true; // volatile: the accept and client loops read it after each blocking call returns
        _stopping.Cancel();
        _listener.Dispose();
        lock (_clients)
            foreach (var c in _clients) c.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
        _acceptThread.Join(1000);
        _stopping.Dispose();
    }
}
