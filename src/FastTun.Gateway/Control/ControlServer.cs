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
/// (SO_PEERCRED, checked at accept so a refused peer never takes a slot). A fixed pool of
/// <see cref="MaxConnections"/> threads, made at start-up with raised priority (before the gateway drops its
/// privileges), serves the connections; one accept thread hands them over. None of this runs on a worker, and
/// a request does a little control-plane work (a snapshot of counters, one route insert).
///
/// Nobody can lock the administrator out: a connection that sends no request for <see cref="IdleTimeoutMs"/>
/// is closed, a request must arrive whole within <see cref="RequestDeadlineMs"/> of its first byte and its
/// answer must be taken within <see cref="SendDeadlineMs"/>, and when every slot is taken a new connection
/// closes the longest-idle one (a connection in the middle of a request or a capture stream is never closed).
/// A malformed request gets an error line; an exception in a handler becomes an error line too, so nothing a
/// client sends can stop the data plane.
/// </summary>
public sealed class ControlServer : IDisposable
{
    /// <summary>Connections served at once; beyond that the longest-idle one makes room.</summary>
    public const int MaxConnections = 16;
    public const int IdleTimeoutMs = 30_000;
    public const int RequestDeadlineMs = 2_000;
    public const int SendDeadlineMs = 5_000;

    private readonly Func<JsonObject, ControlReply> _handler;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly Thread _acceptThread;
    private readonly Thread[] _pool;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Connection> _clients = new();
    private readonly Queue<Connection> _queue = new();
    private readonly int _idleTimeoutMs;
    private volatile bool _disposed;
    private long _evicted;
    private long _timedOut;

    /// <summary>One accepted connection. <see cref="Busy"/> and <see cref="LastActivity"/> are guarded by the
    /// server's <c>_clients</c> lock.</summary>
    private sealed class Connection(Socket socket)
    {
        public Socket Socket { get; } = socket;
        public bool Busy;
        public long LastActivity = Environment.TickCount64;
    }

    public ControlServer(string path, Func<JsonObject, ControlReply> handler, ILogger logger, int idleTimeoutMs = IdleTimeoutMs)
    {
        Path = path;
        _handler = handler;
        _logger = logger;
        _idleTimeoutMs = idleTimeoutMs;
        _listener = Listen(path, logger);
        // Every thread sets its own scheduling first thing; the constructor returns once all have, so that
        // happens before the caller drops the privileges it needs (ControlThreadPriority).
        var raised = new CountdownEvent(MaxConnections + 1); // not disposed: a late thread may still signal it
        _pool = new Thread[MaxConnections];
        for (int i = 0; i < _pool.Length; i++)
        {
            _pool[i] = new Thread(() => ServeLoop(raised)) { IsBackground = true, Name = "fasttun-control-client" };
            _pool[i].Start();
        }
        _acceptThread = new Thread(() => AcceptLoop(raised)) { IsBackground = true, Name = "fasttun-control" };
        _acceptThread.Start();
        if (!raised.Wait(5_000)) logger.LogWarning("control threads did not start within 5 s; their priority may stay default");
        else if (SchedulingMode != ControlThreadPriority.Configured)
            logger.LogInformation("control threads: {Mode} instead of {Configured} (no CAP_SYS_NICE, or RestrictRealtime= in the unit)",
                SchedulingMode, ControlThreadPriority.Configured);
    }

    /// <summary>The scheduling the control threads got (ControlThreadPriority), for the log and tests.</summary>
    internal ControlThreadPriority.Mode SchedulingMode { get; private set; }

    public string Path { get; }
    /// <summary>Idle connections closed to make room for a new one.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);
    /// <summary>Connections closed for idling past the timeout or missing a request or send deadline.</summary>
    public long TimedOut => Interlocked.Read(ref _timedOut);

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

    private void AcceptLoop(CountdownEvent raised)
    {
        SchedulingMode = ControlThreadPriority.Raise();
        raised.Signal();
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
            try
            {
                var peer = PeerCredentials.Read(client);
                if (!peer.IsRoot)
                {
                    _logger.LogWarning("control socket: refused uid {Uid} (pid {Pid})", peer.Uid, peer.Pid);
                    client.SendTimeout = 100;
                    TrySend(client, ControlProtocol.Error(peer.RefusalMessage));
                    client.Dispose();
                    continue;
                }
            }
            catch (SocketException)
            {
                client.Dispose();
                continue;
            }
            Admit(new Connection(client));
        }
    }

    /// <summary>Queues a connection for the pool, closing the longest-idle one when every slot is taken.</summary>
    private void Admit(Connection c)
    {
        Connection? victim = null;
        lock (_clients)
        {
            if (_clients.Count >= MaxConnections)
            {
                foreach (var other in _clients)
                    if (!other.Busy && (victim is null || other.LastActivity < victim.LastActivity)) victim = other;
                if (victim is null)
                {
                    c.Socket.SendTimeout = 100;
                    TrySend(c.Socket, ControlProtocol.Error($"all {MaxConnections} control connections are in the middle of a request; try again"));
                    c.Socket.Dispose();
                    return;
                }
                _clients.Remove(victim); // its slot is the newcomer's from now on
            }
            _clients.Add(c);
            _queue.Enqueue(c);
            Monitor.PulseAll(_clients);
        }
        if (victim is not null)
        {
            Interlocked.Increment(ref _evicted); // a statistic; orders nothing
            _logger.LogInformation("control socket: closed an idle connection to make room for a new one");
            try { victim.Socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }

    private void ServeLoop(CountdownEvent raised)
    {
        ControlThreadPriority.Raise(); // at start-up, while the process may still raise priorities
        raised.Signal();
        while (true)
        {
            Connection c;
            lock (_clients)
            {
                while (_queue.Count == 0 && !_disposed) Monitor.Wait(_clients);
                if (_disposed) return;
                c = _queue.Dequeue();
            }
            Serve(c);
        }
    }

    private void Serve(Connection c)
    {
        var client = c.Socket;
        try
        {
            client.SendTimeout = SendDeadlineMs;
            using var stream = new NetworkStream(client, ownsSocket: false);
            var deadlines = new DeadlineStream(stream, client, _idleTimeoutMs, RequestDeadlineMs);
            using var input = new BufferedStream(deadlines, 4096); // requests are read up to each newline from here
            while (!_disposed)
            {
                string? line = ControlProtocol.ReadLine(input);
                deadlines.EndRequest();
                if (line is null) return;
                if (line.Length == 0) continue;
                lock (_clients) c.Busy = true;
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
                    // A stream (capture) runs as long as the client wants: not at real-time priority.
                    ControlThreadPriority.Lower();
                    reply.Stream(stream, _stopping.Token);
                    return; // a stream ends the conversation
                }
                lock (_clients)
                {
                    c.Busy = false;
                    c.LastActivity = Environment.TickCount64;
                }
            }
        }
        catch (InvalidDataException e)
        {
            TrySend(client, ControlProtocol.Error(e.Message));
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock })
        {
            Interlocked.Increment(ref _timedOut); // a statistic; orders nothing
            TrySend(client, ControlProtocol.Error("control connection closed: idle too long, or a request or answer missed its deadline"));
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away mid-answer, or its idle connection was closed for a newcomer: nothing to tell it.
        }
        finally
        {
            lock (_clients) _clients.Remove(c);
            client.Dispose();
        }
    }

    /// <summary>Sets the socket's receive timeout before each read: the idle timeout while no request has begun,
    /// the time left of the request's deadline once its first byte has arrived.</summary>
    private sealed class DeadlineStream(Stream inner, Socket socket, int idleMs, int requestMs) : Stream
    {
        private long _requestStart = -1;

        public void EndRequest() => _requestStart = -1;

        public override int Read(Span<byte> buffer)
        {
            int timeout = idleMs;
            if (_requestStart >= 0)
            {
                long left = requestMs - (Environment.TickCount64 - _requestStart);
                if (left <= 0) throw new IOException("request deadline passed", new SocketException((int)SocketError.TimedOut));
                timeout = (int)left;
            }
            socket.ReceiveTimeout = timeout;
            int n = inner.Read(buffer);
            if (n > 0 && _requestStart < 0) _requestStart = Environment.TickCount64;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
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
        {
            foreach (var c in _clients) c.Socket.Dispose();
            Monitor.PulseAll(_clients); // idle pool threads wake up and leave
        }
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
