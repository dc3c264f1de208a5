// Checks our SigV4 code against requests signed by botocore (sigv4_botocore.py writes them
// as JSON lines): each must pass VerifyRequest, fail it once tampered with, and come out
// byte for byte the same (Authorization value, or presigned signature) from our signer.
// Prints every mismatch with its request and exits non-zero if there was any.
//
// Usage: sigv4_differential requests.jsonl
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "aws/aws_error.h"
#include "aws/sigv4.h"

namespace {

using stockwatch::aws::Credentials;
using stockwatch::aws::Headers;
using stockwatch::aws::PayloadMode;
using stockwatch::aws::RequestView;
using stockwatch::aws::SignOptions;
using stockwatch::aws::TimePoint;
using stockwatch::aws::VerifiedRequest;

Headers ToHeaders(const nlohmann::json& list) {
  Headers headers;
  for (const auto& pair : list) {
    headers.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
  }
  return headers;
}

PayloadMode ExpectedMode(const std::string& payload_hash) {
  if (payload_hash == stockwatch::aws::kUnsignedPayload) return PayloadMode::kUnsigned;
  if (payload_hash == stockwatch::aws::kStreamingSignedPayload) {
    return PayloadMode::kStreamingSigned;
  }
  if (payload_hash == stockwatch::aws::kStreamingSignedTrailerPayload) {
    return PayloadMode::kStreamingSignedTrailer;
  }
  if (payload_hash == stockwatch::aws::kStreamingUnsignedTrailerPayload) {
    return PayloadMode::kStreamingUnsignedTrailer;
  }
  return PayloadMode::kSignedHex;
}

// Returns the problems found with one request; empty if none.
std::string Check(const nlohmann::json& record) {
  std::string problems;
  auto fail = [&](const std::string& what) { problems += "  " + what + "\n"; };

  const std::string method = record.at("method");
  const std::string target = record.at("target");
  const std::string access_key = record.at("access_key");
  const std::string secret = record.at("secret");
  const bool presigned = record.at("presigned");
  const std::string payload_hash = record.at("payload_hash");
  const Headers headers = ToHeaders(record.at("headers"));
  const int index = record.at("index");
  const absl::StatusOr<TimePoint> signed_at =
      stockwatch::aws::ParseAmzDate(record.at("amz_date").get<std::string>());
  if (!signed_at.ok()) return "  bad amz_date in the record\n";
  const int64_t expires = presigned ? record.at("expires").get<int64_t>() : 0;
  // A moment at which the signature is valid: within the skew, or before expiry.
  const TimePoint now = *signed_at + (presigned ? std::chrono::seconds(index % (expires + 1))
                                                : std::chrono::seconds(index % 1801 - 900));

  const stockwatch::aws::SecretLookup lookup =
      [&](std::string_view id) -> absl::StatusOr<std::string> {
    if (id == access_key) return secret;
    return absl::NotFoundError("unknown key");
  };

  // 1. Our verifier accepts botocore's signature.
  absl::StatusOr<VerifiedRequest> verified =
      stockwatch::aws::VerifyRequest(RequestView{method, target, &headers}, lookup, now);
  if (!verified.ok()) {
    fail("VerifyRequest refused it: " + verified.status().ToString());
  } else {
    if (verified->access_key_id != access_key) fail("verified access key differs");
    if (verified->scope.region != record.at("region").get<std::string>()) {
      fail("verified region differs");
    }
    if (verified->presigned != presigned) fail("verified presigned flag differs");
    if (verified->payload_mode != ExpectedMode(payload_hash)) fail("payload mode differs");
    const TimePoint valid_until =
        *signed_at + (presigned ? std::chrono::seconds(expires) : std::chrono::minutes(15));
    if (verified->valid_until != valid_until) fail("valid_until differs");
  }

  // 2. ...and refuses it with the method changed (the signature no longer covers it).
  const std::string other_method = method == "GET" ? "PUT" : "GET";
  const absl::Status tampered =
      stockwatch::aws::VerifyRequest(RequestView{other_method, target, &headers}, lookup, now)
          .status();
  if (stockwatch::aws::AwsErrorCode(tampered) != "SignatureDoesNotMatch") {
    fail("a changed method was not SignatureDoesNotMatch: " + tampered.ToString());
  }

  // 3. Our signer writes what botocore wrote.
  const Credentials credentials{access_key, secret, record.at("token").get<std::string>()};
  SignOptions options;
  options.region = record.at("region");
  options.now = *signed_at;
  options.payload_hash = payload_hash;
  Headers original = ToHeaders(record.at("original_headers"));
  const std::string original_target = record.at("original_target");
  if (presigned) {
    absl::StatusOr<std::string> ours = stockwatch::aws::PresignTarget(
        method, original_target, original, credentials, options, std::chrono::seconds(expires));
    if (!ours.ok()) {
      fail("PresignTarget failed: " + ours.status().ToString());
    } else {
      const std::string signature = ours->substr(ours->rfind("X-Amz-Signature=") + 16);
      if (signature != record.at("signature").get<std::string>()) {
        fail("presigned signature differs: ours " + signature + " in " + *ours);
      }
    }
  } else {
    const absl::Status signed_status =
        stockwatch::aws::SignRequest(method, original_target, original, credentials, options);
    if (!signed_status.ok()) {
      fail("SignRequest failed: " + signed_status.ToString());
    } else if (original.back().second != record.at("authorization").get<std::string>()) {
      fail("Authorization differs: ours " + original.back().second);
    }
  }
  return problems;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s requests.jsonl\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "sigv4_differential: cannot read %s\n", argv[1]);
    return 2;
  }
  int passed = 0;
  int failed = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::string problems;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
      problems = Check(record);
    } catch (const nlohmann::json::exception& e) {
      problems = std::string("  malformed record: ") + e.what() + "\n";
    }
    if (problems.empty()) {
      ++passed;
    } else {
      ++failed;
      std::cout << "MISMATCH for request:\n" << line << "\n" << problems << std::endl;
    }
  }
  std::cout << "sigv4_differential: " << passed << " passed, " << failed << " failed" << std::endl;
  return failed == 0 && passed > 0 ? 0 : 1;
}
