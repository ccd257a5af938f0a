using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;
using FastTun.Gateway.Control;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastTun.Gateway.Tests.Control;

/// <summary>Issue #12 item 5: idle connections cannot lock the administrator out, and requests have deadlines.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ControlServerLimitsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fasttun-lim-{Environment.ProcessId}-{Guid.NewGuid():N}");
    private string SocketPath => Path.Combine(_dir, "ctl.sock");

    private static ControlReply Echo(JsonObject request) => new(ControlProtocol.Ok(request["value"]?.DeepClone()));

    private Socket Raw()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(SocketPath));
        return s;
    }

    /// <summary>Reads until the server closes the connection (or 10 s pass) and returns what it said.</summary>
    private static string ReadToClose(Socket s)
    {
        s.ReceiveTimeout = 10_000;
        var text = new StringBuilder();
        var buffer = new byte[512];
        int n;
        while ((n = s.Receive(buffer)) > 0) text.Append(Encoding.UTF8.GetString(buffer, 0, n));
        return text.ToString();
    }

    [ControlRootFact]
    public void Accept_AllSlotsHeldByIdleConnections_AdminStillAnswered()
    {
        using var server = new ControlServer(SocketPath, Echo, NullLogger.Instance);
        var idle = Enumerable.Range(0, ControlServer.MaxConnections * 2).Select(_ => Raw()).ToList();
        try
        {
            using var admin = ControlClient.Connect(SocketPath);
            Assert.Equal(42, admin.Request(new JsonObject { ["cmd"] = "echo", ["value"] = 42 })!.GetValue<int>());
            Assert.True(server.Evicted >= ControlServer.MaxConnections + 1, $"{server.Evicted} evicted");
            // It stays usable while more idle connections keep arriving: only idle ones make room.
            for (int i = 0; i < 4; i++) idle.Add(Raw());
            Assert.Equal(43, admin.Request(new JsonObject { ["cmd"] = "echo", ["value"] = 43 })!.GetValue<int>());
        }
        finally
        {
            foreach (var s in idle) s.Dispose();
        }
    }

    [ControlRootFact]
    public void Serve_IdleConnection_ClosedAfterIdleTimeout()
    {
        using var server = new ControlServer(SocketPath, Echo, NullLogger.Instance, idleTimeoutMs: 300);
        using var s = Raw();
        Assert.Contains("idle too long", ReadToClose(s));
        Assert.Equal(1, server.TimedOut);
    }

    [ControlRootFact]
    public void Serve_RequestDribbled_ClosedAtRequestDeadline()
    {
        using var server = new ControlServer(SocketPath, Echo, NullLogger.Instance);
        using var s = Raw();
        s.Send("{\"cmd\":"u8); // a request that never ends
        Assert.Contains("deadline", ReadToClose(s));
        Assert.Equal(1, server.TimedOut);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
