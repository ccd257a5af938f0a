using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;
using FastTun.Gateway.Control;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastTun.Gateway.Tests.Control;

/// <summary>The server alone, with a scripted handler (root: the peer check admits uid 0 only).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ControlServerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fasttun-srv-{Environment.ProcessId}-{Guid.NewGuid():N}");
    private string SocketPath => Path.Combine(_dir, "sub", "ctl.sock");

    private static ControlReply Handler(JsonObject request) => (string?)request["cmd"] switch
    {
        "echo" => new ControlReply(ControlProtocol.Ok(request["value"]?.DeepClone())),
        "boom" => throw new InvalidOperationException("refused on purpose"),
        "bug" => throw new NullReferenceException("a bug"),
        "stream" => new ControlReply(ControlProtocol.Ok(), (s, _) => s.Write("RAWBYTES"u8)),
        _ => throw new ArgumentException("unknown"),
    };

    [ControlRootFact]
    public void Listen_NewDirectory_Mode0700AndSocket0600()
    {
        using var server = new ControlServer(SocketPath, Handler, NullLogger.Instance);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(SocketPath)!));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));
    }

    [ControlRootFact]
    public void Handle_ManyRequestsOneConnection_AnswersInOrderAndErrorsAsLines()
    {
        using var server = new ControlServer(SocketPath, Handler, NullLogger.Instance);
        using var client = ControlClient.Connect(SocketPath);
        Assert.Equal(7, client.Request(new JsonObject { ["cmd"] = "echo", ["value"] = 7 })!.GetValue<int>());
        var refused = client.RequestRaw(new JsonObject { ["cmd"] = "boom" });
        Assert.Equal("refused on purpose", refused["error"]!.GetValue<string>());
        var bug = client.RequestRaw(new JsonObject { ["cmd"] = "bug" });
        Assert.StartsWith("internal error: NullReferenceException", bug["error"]!.GetValue<string>());
        Assert.Equal("x", client.Request(new JsonObject { ["cmd"] = "echo", ["value"] = "x" })!.GetValue<string>());
    }

    [ControlRootFact]
    public void Handle_StreamReply_OkLineThenRawBytesThenClose()
    {
        using var server = new ControlServer(SocketPath, Handler, NullLogger.Instance);
        using var client = ControlClient.Connect(SocketPath);
        client.Request(new JsonObject { ["cmd"] = "stream" });
        var rest = new MemoryStream();
        client.Stream.CopyTo(rest);
        Assert.Equal("RAWBYTES", Encoding.ASCII.GetString(rest.ToArray()));
    }

    [ControlRootFact]
    public void Listen_LiveSocketAtPath_RefusedButStaleFileReplaced()
    {
        using (var first = new ControlServer(SocketPath, Handler, NullLogger.Instance))
        {
            var e = Assert.Throws<InvalidOperationException>(() => new ControlServer(SocketPath, Handler, NullLogger.Instance));
            Assert.Contains("in use by another fasttun", e.Message);
        }
        // A crash leaves the file behind with nobody listening: the next gateway takes the path over.
        // (.NET unlinks the files of sockets it bound, so a short python process leaves the stale file.)
        ControlLab.Run("/usr/bin/python3", $"-c \"import socket; socket.socket(socket.AF_UNIX).bind('{SocketPath}')\"");
        Assert.True(File.Exists(SocketPath));
        using var second = new ControlServer(SocketPath, Handler, NullLogger.Instance);
        using var client = ControlClient.Connect(SocketPath);
        Assert.Equal(1, client.Request(new JsonObject { ["cmd"] = "echo", ["value"] = 1 })!.GetValue<int>());
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
