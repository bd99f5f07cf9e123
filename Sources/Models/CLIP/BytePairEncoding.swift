import Foundation

/// Byte-level byte-pair encoding as CLIP uses it: OpenAI CLIP's `bytes_to_unicode` map (every
/// UTF-8 byte written as one printable character) and the BPE model of Hugging Face tokenizers
/// (`models/bpe`, `end_of_word_suffix: "</w>"`, no continuing-subword prefix, `fuse_unk: false`):
/// a word's byte symbols, the last with `</w>` appended, merged pair by pair in the order of the
/// merge list (the lowest rank first, the leftmost among equal ranks). Words are cached.
struct BytePairEncoding: Sendable {
    /// Token string → id, and the reverse (for decoding).
    let vocabulary: [String: Int]
    let tokens: [Int: String]
    /// (left id, right id) → (rank, merged id).
    let merges: [PairKey: Merge]
    let unknownID: Int?
    static let endOfWord = "</w>"
    private let cache = WordCache()

    struct PairKey: Hashable, Sendable { var left: Int32, right: Int32 }
    struct Merge: Sendable { var rank: Int32, id: Int32 }

    /// Why a merge list does not fit the vocabulary (the caller names the file).
    enum Problem: Error { case mergeOutOfVocabulary(index: Int, token: String), idOutOfRange(token: String, id: Int) }

    init(vocabulary: [String: Int], merges pairs: [(String, String)], unknownToken: String?) throws {
        for (token, id) in vocabulary where id < 0 || id > Int(Int32.max) { throw Problem.idOutOfRange(token: token, id: id) }
        self.vocabulary = vocabulary
        var tokens: [Int: String] = [:]
        for (token, id) in vocabulary { tokens[id] = token }
        self.tokens = tokens
        var merges: [PairKey: Merge] = [:]
        merges.reserveCapacity(pairs.count)
        for (rank, (left, right)) in pairs.enumerated() {
            guard let l = vocabulary[left] else { throw Problem.mergeOutOfVocabulary(index: rank, token: left) }
            guard let r = vocabulary[right] else { throw Problem.mergeOutOfVocabulary(index: rank, token: right) }
            guard let merged = vocabulary[left + right] else {
                throw Problem.mergeOutOfVocabulary(index: rank, token: left + right)
            }
            let key = PairKey(left: Int32(l), right: Int32(r))
            // tokenizers keeps the first rank of a pair listed twice.
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), id: Int32(merged)) }
        }
        self.merges = merges
        unknownID = unknownToken.flatMap { vocabulary[$0] }
    }

    /// The ids of one pre-tokenized word (its text before the byte map).
    func encode(word: String) -> [Int] {
        // Keyed by the bytes: Swift compares Strings by canonical equivalence, and two orders of
        // combining marks are different words to BPE.
        let bytes = Array(word.utf8)
        guard !bytes.isEmpty else { return [] }
        if let cached = cache[bytes] { return cached }
        var symbols: [Int32] = []
        symbols.reserveCapacity(bytes.count)
        for (i, byte) in bytes.enumerated() {
            var symbol = String(ByteLevel.character(for: byte))
            if i == bytes.count - 1 { symbol += Self.endOfWord }
            if let id = vocabulary[symbol] {
                symbols.append(Int32(id))
            } else if let unknownID {
                symbols.append(Int32(unknownID))
            }
        }
        let ids = merge(symbols)
        cache[bytes] = ids
        return ids
    }
}

extension BytePairEncoding {
    /// Merges the pair of lowest rank, the leftmost of equal ranks, until no listed pair is left:
    /// tokenizers' `Word::merge_all` (a heap of (rank, position) over a linked list of symbols),
    /// O(n log n) in the word's length.
    func merge(_ initial: [Int32]) -> [Int] {
        var ids = initial
        let n = ids.count
        var next = Array(1...max(n, 1)), previous = Array(-1..<max(n - 1, 0))
        if n > 0 { next[n - 1] = -1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        func push(_ position: Int) {
            guard position >= 0, next[position] >= 0,
                  let merge = merges[PairKey(left: ids[position], right: ids[next[position]])] else { return }
            heap.push(.init(rank: merge.rank, position: Int32(position), left: ids[position], right: ids[next[position]]))
        }
        for position in 0..<max(n - 1, 0) { push(position) }
        while let candidate = heap.pop() {
            let position = Int(candidate.position)
            let right = alive[position] ? next[position] : -1
            guard right >= 0, ids[position] == candidate.left, ids[right] == candidate.right,
                  let merge = merges[PairKey(left: candidate.left, right: candidate.right)] else { continue }
            ids[position] = merge.id
            alive[right] = false
            next[position] = next[right]
            if next[right] >= 0 { previous[next[right]] = position }
            push(previous[position])
            push(position)
        }
        var out: [Int] = []
        var position = n > 0 ? 0 : -1
        while position >= 0 {
            out.append(Int(ids[position]))
            position = next[position]
        }
        return out
    }
}

/// A binary min-heap of merge candidates ordered by (rank, position).
struct MergeHeap {
    struct Entry { var rank: Int32, position: Int32, left: Int32, right: Int32 }
    private var entries: [Entry] = []

    private static func less(_ a: Entry, _ b: Entry) -> Bool { (a.rank, a.position) < (b.rank, b.position) }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(entries[child], entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < entries.count, Self.less(entries[left], entries[smallest]) { smallest = left }
                if right < entries.count, Self.less(entries[right], entries[smallest]) { smallest = right }
                guard smallest != parent else { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}

/// GPT-2 / CLIP `bytes_to_unicode`: the printable bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` stand for
/// themselves, the other 68 bytes for U+0100, U+0101, … in byte order.
enum ByteLevel {
    static let characters: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            if printable {
                table[byte] = Character(Unicode.Scalar(UInt8(byte)))
            } else {
                table[byte] = Character(Unicode.Scalar(next)!)
                next += 1
            }
        }
        return table
    }()

    static let bytes: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (byte, character) in characters.enumerated() { map[character.unicodeScalars.first!] = UInt8(byte) }
        return map
    }()

    static func character(for byte: UInt8) -> Character { characters[Int(byte)] }

    /// tokenizers' `ByteLevel` decoder: each token's characters mapped back to bytes (a token
    /// with a character outside the map keeps its own UTF-8), the bytes read as UTF-8 with
    /// invalid sequences replaced by U+FFFD.
    static func decode(_ tokens: [String]) -> String {
        var data: [UInt8] = []
        for token in tokens {
            var mapped: [UInt8] = []
            var ok = true
            for scalar in token.unicodeScalars {
                guard let byte = bytes[scalar] else { ok = false; break }
                mapped.append(byte)
            }
            data += ok ? mapped : Array(token.utf8)
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The BPE word cache (tokenizers caps its cache at 10 000 words; so does this one).
private final class WordCache: @unchecked Sendable {
    private var words: [[UInt8]: [Int]] = [:]
    private let lock = NSLock()
    private let capacity = 10_000

    subscript(word: [UInt8]) -> [Int]? {
        get {
            lock.lock()
            defer { lock.unlock() }
            return words[word]
        }
        set {
            lock.lock()
            defer { lock.unlock() }
            if words.count >= capacity { words.removeAll(keepingCapacity: true) }
            words[word] = newValue
        }
    }
}
