using FastTun.Gateway.Cli;

return CommandLine.Run(args);
