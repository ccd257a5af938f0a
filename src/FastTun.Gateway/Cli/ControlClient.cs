using System.Text;
using System.Text.Json.Nodes;
using FastTun.Gateway.Control;

namespace FastTun.Gateway.Cli;

/// <summary>Thrown when the gateway answers <c>{"ok":false}</c> or cannot be reached; the message is for the user.</summary>
public sealed class ControlClientException(string message) : Exception(message);

/// <summary>The CLI's side of the control socket: one connection, requests answered in turn. The socket is a
/// <see cref="UnixSocketStream"/> (plain libc calls): a short command such as <c>fasttun show stats</c> then never loads
/// System.Net.Sockets.</summary>
public sealed class ControlClient : IDisposable
{
    private readonly UnixSocketStream _socket;

    private ControlClient(UnixSocketStream socket, string path)
    {
        _socket = socket;
        Path = path;
        Stream = new BufferedStream(socket, 64 * 1024);
    }

    public string Path { get; }
    /// <summary>What the gateway sends, buffered: answers are read a byte at a time up to the newline, and a
    /// capture's pcapng bytes follow its answer line in the same buffer.</summary>
    public Stream Stream { get; }

    public static ControlClient Connect(string path)
    {
        try
        {
            return new ControlClient(UnixSocketStream.Connect(path), path);
        }
        catch (UnixSocketException e)
        {
            bool denied = e.Errno == Tmds.Linux.LibC.EACCES || e.Errno == Tmds.Linux.LibC.EPERM;
            string why = denied ? "permission denied: the control socket is for root only (run with sudo)"
                : e.Errno == Tmds.Linux.LibC.ECONNREFUSED ? "no gateway is listening there (is fasttun run running?)"
                : e.Message;
            if (!denied && !File.Exists(path)) why = "no such socket (is fasttun run running? give its --control-socket PATH)";
            throw new ControlClientException($"cannot connect to {path}: {why}");
        }
    }

    /// <summary>Sends one request and returns the answer's data; throws with the gateway's error text.</summary>
    public JsonNode? Request(JsonObject request)
    {
        var answer = RequestRaw(request);
        if (answer["ok"]?.GetValue<bool>() == true) return answer["data"];
        throw new ControlClientException(answer["error"]?.GetValue<string>() ?? "the gateway answered without ok or error");
    }

    public JsonObject RequestRaw(JsonObject request)
    {
        string line = RequestLine(ControlProtocol.Line(request));
        return JsonNode.Parse(line) as JsonObject ?? throw new ControlClientException($"unreadable answer: {line}");
    }

    /// <summary>Sends one request given as JSON text and returns the answer's data as an <see cref="AnswerNode"/>, read
    /// without System.Text.Json (see AnswerJson: the show commands' start-up cost); throws with the gateway's error text.</summary>
    public AnswerNode? Ask(string requestJson)
    {
        string line = RequestLine(Encoding.UTF8.GetBytes(requestJson + "\n"));
        AnswerNode? answer;
        try { answer = AnswerJson.Parse(line); }
        catch (FormatException e) { throw new ControlClientException($"unreadable answer ({e.Message}): {line}"); }
        if (answer is null || answer.Kind != AnswerNode.NodeKind.Object) throw new ControlClientException($"unreadable answer: {line}");
        if (answer["ok"] is { Kind: AnswerNode.NodeKind.True }) return answer["data"];
        throw new ControlClientException(answer["error"] is { Kind: AnswerNode.NodeKind.String } why ? why.ToString()
            : "the gateway answered without ok or error");
    }

    /// <summary>Sends one request line (JSON and its newline) and returns the answer line.</summary>
    public string RequestLine(ReadOnlySpan<byte> request)
    {
        try
        {
            _socket.Write(request);
            return ControlProtocol.ReadLine(Stream) ?? throw new ControlClientException("the gateway closed the connection without answering");
        }
        catch (IOException e)
        {
            throw new ControlClientException($"control socket {Path}: {e.Message}");
        }
    }

    /// <summary>Closes our sending side: the gateway sees end of stream (ends a capture) and may still answer.</summary>
    public void ShutdownSend() => _socket.ShutdownSend();

    public void Dispose()
    {
        Stream.Dispose();
        _socket.Dispose();
    }
}
