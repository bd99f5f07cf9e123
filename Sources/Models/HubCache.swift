import Foundation

/// Models in a Hugging Face cache, found offline: `ORG/NAME[@REVISION]` resolves, as
/// huggingface_hub lays the cache out (file_download.py `hf_hub_download`, `snapshot_download`), to
/// `models--ORG--NAME/snapshots/<commit>/`, where the commit is REVISION when it is a commit hash
/// present under `snapshots/`, else the content of `refs/REVISION` (default `main`). The snapshot's
/// files are symlinks into `blobs/`, followed like any path. Nothing here touches the network.
public struct HubCache: Sendable {
    /// Cache roots in the order huggingface_hub consults them (the CLI resolves them from
    /// `$HF_HUB_CACHE`, `$HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub`,
    /// `~/.cache/huggingface/hub`); only the first that is set is huggingface_hub's own choice, the
    /// others are looked in too.
    public var roots: [URL]

    /// A cache searched in `roots`, in order.
    public init(roots: [URL]) { self.roots = roots }

    /// A repository id with an optional revision, e.g. `google/ddpm-cifar10-32@main`.
    public struct Reference: Sendable, Equatable {
        /// The repository's owner.
        public var organization: String
        /// The repository's name.
        public var name: String
        /// A branch, tag or commit hash (default `main`).
        public var revision: String

        /// Parses `ORG/NAME[@REVISION]`; nil for anything else (paths with more parts, empty parts).
        public init?(_ text: String) {
            let halves = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let parts = halves[0].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let revision = halves.count > 1 ? halves[1] : "main"
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".."
                                                        && $0.unicodeScalars.allSatisfy(allowed.contains) }),
                  !revision.isEmpty, !revision.hasPrefix("/"), !revision.contains("..")
            else { return nil }
            organization = parts[0]
            name = parts[1]
            self.revision = revision
        }

        /// The cache folder's name.
        public var folderName: String { "models--\(organization)--\(name)" }
        /// `ORG/NAME`.
        public var id: String { "\(organization)/\(name)" }
    }

    /// The snapshot folder of `reference`, or an error naming where it looked and the download command.
    public func snapshot(_ reference: Reference) throws -> URL {
        var looked: [String] = []
        let manager = FileManager.default
        for root in roots {
            let repository = root.appendingPathComponent(reference.folderName, isDirectory: true)
            let snapshots = repository.appendingPathComponent("snapshots", isDirectory: true)
            let direct = snapshots.appendingPathComponent(reference.revision, isDirectory: true)
            if Self.isCommitHash(reference.revision), manager.fileExists(atPath: direct.path) { return direct }
            let ref = repository.appendingPathComponent("refs").appendingPathComponent(reference.revision)
            looked.append(ref.path)
            if let commit = try? String(contentsOf: ref, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
               Self.isCommitHash(commit) {
                let folder = snapshots.appendingPathComponent(commit, isDirectory: true)
                if manager.fileExists(atPath: folder.path) { return folder }
                looked.append(folder.path)
            }
        }
        throw HubCacheError.notCached(reference.id, revision: reference.revision, looked: looked)
    }

    /// A 40-hex-digit git commit id.
    static func isCommitHash(_ text: String) -> Bool {
        text.count == 40 && text.allSatisfy(\.isHexDigit)
    }
}

/// A repository or revision not in the cache, with the download command.
public enum HubCacheError: Error, LocalizedError, Equatable {
    case notCached(String, revision: String, looked: [String])

    public var errorDescription: String? {
        switch self {
        case let .notCached(id, revision, looked):
            "\(id)@\(revision) is not in the Hugging Face cache (looked for \(looked.joined(separator: ", "))); skipstep never "
                + "downloads: fetch it with `huggingface-cli download \(id)" + (revision == "main" ? "" : " --revision \(revision)")
                + "` (pip install huggingface_hub), or pass the model's folder"
        }
    }
}
