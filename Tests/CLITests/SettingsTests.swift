import Foundation
@testable import skipstep
import Testing

/// The environment is read once, in the CLI: these are its rules.
@Suite struct SettingsTests {
    @Test("Cache directory: SKIPSTEP_CACHE_DIR, then XDG_CACHE_HOME/skipstep, then ~/.cache/skipstep")
    func cacheDirectory() {
        func cache(_ environment: [String: String]) -> String { Settings(environment: environment, executable: "/x/skipstep").cacheDirectory.path }
        #expect(cache(["SKIPSTEP_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/b", "HOME": "/h"]) == "/a")
        #expect(cache(["XDG_CACHE_HOME": "/b", "HOME": "/h"]) == "/b/skipstep")
        #expect(cache(["SKIPSTEP_CACHE_DIR": "", "HOME": "/h"]) == "/h/.cache/skipstep")
    }

    @Test func modelDirectoriesAndDataset() {
        let settings = Settings(environment: ["SKIPSTEP_MODELS_DIR": "/m", "SKIPSTEP_FASHION_MNIST_DIR": "/f"],
                                executable: "/repo/.build/x86_64-unknown-linux-gnu/release/skipstep")
        #expect(settings.modelDirectories.map(\.path) == ["/m", "/repo/models", "/repo/.build/x86_64-unknown-linux-gnu/share/skipstep/models",
                                                         URL(fileURLWithPath: "models").path])
        // Installed by tools/install.sh: PREFIX/bin/skipstep finds PREFIX/share/skipstep/models.
        let installed = Settings(environment: [:], executable: "/opt/skipstep/bin/skipstep")
        #expect(installed.modelDirectories.map(\.path).contains("/opt/skipstep/share/skipstep/models"))
        #expect(Settings.executablePath().hasPrefix("/"))
        #expect(settings.fashionMNISTDirectory == "/f")
        #expect(Settings(environment: [:], executable: "/x").fashionMNISTDirectory == "/usr/share/datasets/fashion-mnist")
    }
}
