import Foundation
import Files

/// A key of a JSON config whose value has the wrong type, thrown from `init(from:)` so the loader
/// can name the file too (JSONDecoder on Linux reports `1.5` for an `Int` as "not valid JSON",
/// with no key).
struct ConfigValueError: Error {
    var key: String
    var expected: String
    var found: String
}

/// Any JSON value, to quote what a config holds where something else was expected.
enum JSONValue: Decodable, CustomStringConvertible {
    case null, bool(Bool), integer(Int), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Int.self) { self = .integer(v) }
        else if let v = try? c.decode(Double.self) { self = .number(v) }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode([JSONValue].self) { self = .array(v) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var description: String {
        let text: String = switch self {
        case .null: "null"
        case .bool(let v): "\(v)"
        case .integer(let v): "\(v)"
        case .number(let v): "\(v)"
        case .string(let v): "\"\(v)\""
        case .array(let v): "[" + v.map(\.description).joined(separator: ", ") + "]"
        case .object(let v): "{" + v.keys.sorted().map { "\"\($0)\": \(v[$0]!)" }.joined(separator: ", ") + "}"
        }
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }
}

/// The readable name of a config value's type, for "expected ..." messages.
func expectedJSONType<T>(_: T.Type) -> String {
    switch T.self {
    case is Int.Type: "an integer"
    case is Double.Type: "a number"
    case is String.Type: "a string"
    case is Bool.Type: "true or false"
    case is [Int].Type: "a list of integers"
    case is [Double].Type: "a list of numbers"
    case is [String].Type: "a list of strings"
    default: "\(T.self)"
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or nil when absent or null; a value of another type is a
    /// `ConfigValueError` naming the key, the expected type and the value found.
    func configValue<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        do {
            return try decodeIfPresent(T.self, forKey: key)
        } catch {
            throw ConfigValueError(key: key.stringValue, expected: expectedJSONType(T.self),
                                   found: (try? decode(JSONValue.self, forKey: key))?.description ?? "an unreadable value")
        }
    }
}

enum ConfigFile {
    /// Decodes the JSON config at `url` as `T`; every failure is a `UNetLoadError` naming the file
    /// and, where one is at fault, the key, what was expected and what the file holds.
    static func decode<T: Decodable>(_ type: T.Type, at url: URL, what: String) throws -> T {
        try decode(T.self, from: read(url), path: url.path, what: what)
    }

    /// The file's bytes; a failure is `UNetLoadError.unreadable` with a plain reason.
    static func read(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            throw UNetLoadError.unreadable(path: url.path, reason: FileErrorText.reason(error))
        }
    }

    /// `decode(_:at:what:)` on bytes already read; `path` names the file in errors.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String, what: String) throws -> T {
        let url = URL(fileURLWithPath: path)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as ConfigValueError {
            throw UNetLoadError.invalidValue(path: url.path, key: error.key, value: error.found, expected: error.expected)
        } catch let error as UNetLoadError {
            throw error
        } catch {
            let parsed: Any
            do {
                parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            } catch let syntax as NSError {
                let detail = syntax.userInfo["NSDebugDescription"] as? String ?? FileErrorText.reason(syntax)
                throw UNetLoadError.invalidConfig(path: url.path, reason: "not valid JSON (\(detail))")
            }
            guard parsed is [String: Any] else {
                throw UNetLoadError.invalidConfig(path: url.path, reason: "expected a JSON object of \(what) keys")
            }
            throw UNetLoadError.invalidConfig(path: url.path, reason: "not a \(what) config (\(describe(error)))")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case let .typeMismatch(type, context)?:
            "\(keyPath(context)): expected \(type)"
        case let .valueNotFound(type, context)?:
            "\(keyPath(context)): expected \(type), found null"
        case let .keyNotFound(key, context)?:
            "\((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")) is missing"
        case let .dataCorrupted(context)? where context.codingPath.isEmpty:
            // Foundation's own wording ("not valid JSON") is wrong here: the JSON parsed, so a
            // number did not fit the type its key needs.
            "a value has the wrong type (for example a fraction or a number too large where an integer is expected)"
        case let .dataCorrupted(context)?:
            "\(keyPath(context)): \(context.debugDescription)"
        default:
            error.localizedDescription
        }
    }

    private static func keyPath(_ context: DecodingError.Context) -> String {
        context.codingPath.isEmpty ? "the top level" : context.codingPath.map(\.stringValue).joined(separator: ".")
    }
}
