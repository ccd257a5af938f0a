namespace FastTun.Gateway.Tests;

/// <summary>The repository's copies of the seed documents (used where no shared/ folder sits above the checkout)
/// are the shared ones, byte for byte.</summary>
public class SeedCopyTests
{
    [Fact]
    public void RepoSeeds_WhereSharedSeedsExist_AreByteIdentical()
    {
        string repo = ConfigTestSupport.RepoSeedsDir();
        var copies = Directory.GetFiles(repo, "00*_*.txt").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(5, copies.Count);
        string? shared = ConfigTestSupport.SharedSeedsDir();
        if (shared is null) return; // a checkout with no shared/ above it: the copies are all there is
        var originals = Directory.GetFiles(shared, "00*_*.txt").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(originals, copies);
        foreach (string name in originals!)
            Assert.True(File.ReadAllBytes(Path.Combine(shared, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(repo, name!))),
                $"{name} differs from shared/seeds");
    }
}
