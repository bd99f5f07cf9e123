import Foundation
@testable import Media
import TestSupport

/// A fresh directory under the system temporary directory; remove it with `removeItem`.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("skipstep-media-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func mediaFixture(_ relativePath: String) -> URL {
    Fixtures.url("media/" + relativePath)
}

extension MediaError {
    /// The case's name, for tests that check which kind of error was thrown.
    var kind: String {
        switch self {
        case .unreadable: "unreadable"
        case .malformed: "malformed"
        case .unsupported: "unsupported"
        case .truncated: "truncated"
        case .datasetMissing: "datasetMissing"
        case .invalidSelection: "invalidSelection"
        }
    }

    var message: String { errorDescription ?? "" }
}
