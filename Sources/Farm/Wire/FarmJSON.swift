import Foundation
import SwiftProtobuf

/// Protobuf JSON for the client API, so the command-line tool needs no protobuf import.
public enum FarmJSON {
  /// A job spec from its protobuf JSON form.
  public static func jobSpec(from text: String) throws(FarmError) -> Redub_V1_JobSpec {
    do { return try Redub_V1_JobSpec(jsonString: text) } catch {
      throw FarmError.invalidJob("the spec is not redub.v1.JobSpec JSON: \(error)")
    }
  }

  /// A message as protobuf JSON.
  public static func text(_ message: some SwiftProtobuf.Message) -> String {
    (try? message.jsonString()) ?? "{}"
  }
}
