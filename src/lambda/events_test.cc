#include "lambda/events.h"

#include <gtest/gtest.h>

namespace stockwatch::lambda {
namespace {

using nlohmann::json;

// An S3 event notification as Amazon S3 sends it to Lambda (eventVersion 2.1, the
// documented "Event message structure"), with two records.
const char* kS3Event = R"({
  "Records": [
    {
      "eventVersion": "2.1",
      "eventSource": "aws:s3",
      "awsRegion": "eu-central-1",
      "eventTime": "2026-11-25T15:21:50.123Z",
      "eventName": "ObjectCreated:Put",
      "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
      "requestParameters": {"sourceIPAddress": "203.0.113.7"},
      "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810",
                           "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
      "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "load-inventory",
        "bucket": {"name": "inventory-uploads", "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                   "arn": "arn:aws:s3:::inventory-uploads"},
        "object": {"key": "inventory+berlin%2Bnorth%C3%A9.csv", "size": 1024,
                   "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}
      }
    },
    {
      "eventVersion": "2.1",
      "eventSource": "aws:s3",
      "awsRegion": "eu-central-1",
      "eventTime": "2026-11-25T15:21:51.000Z",
      "eventName": "ObjectCreated:CompleteMultipartUpload",
      "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
      "requestParameters": {"sourceIPAddress": "203.0.113.7"},
      "responseElements": {"x-amz-request-id": "C3D13FE58DE4C811", "x-amz-id-2": "x"},
      "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "load-inventory",
        "bucket": {"name": "inventory-uploads", "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                   "arn": "arn:aws:s3:::inventory-uploads"},
        "object": {"key": "paris.csv", "size": 7, "eTag": "\"0123abcd\"",
                   "sequencer": "0055aed6dcd90281f0"}
      }
    }
  ]
})";

TEST(S3EventTest, ParsesEveryRecord) {
  auto records = ParseS3Event(json::parse(kS3Event));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  const S3EventRecord& first = (*records)[0];
  EXPECT_EQ(first.event_name, "ObjectCreated:Put");
  EXPECT_EQ(first.bucket, "inventory-uploads");
  EXPECT_EQ(first.key, "inventory berlin+north\xC3\xA9.csv");
  EXPECT_EQ(first.size, 1024u);
  EXPECT_EQ(first.etag, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(first.sequencer, "0055AED6DCD90281E5");
  EXPECT_EQ(first.event_time, "2026-11-25T15:21:50.123Z");
  const S3EventRecord& second = (*records)[1];
  EXPECT_EQ(second.event_name, "ObjectCreated:CompleteMultipartUpload");
  EXPECT_EQ(second.key, "paris.csv");
  EXPECT_EQ(second.etag, "0123abcd");                 // quotes dropped
  EXPECT_EQ(second.sequencer, "0055AED6DCD90281F0");  // upper-cased
}

TEST(S3EventTest, RejectsWhatIsNotAnS3Event) {
  EXPECT_FALSE(ParseS3Event(json::parse(R"({"foo":1})")).ok());
  EXPECT_FALSE(ParseS3Event(json::parse(R"({"Records":[{"s3":{"bucket":{"name":"b"}}}]})")).ok());
  auto bad_escape = ParseS3Event(
      json::parse(R"({"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"a%G1"}}}]})"));
  ASSERT_FALSE(bad_escape.ok());
  EXPECT_NE(bad_escape.status().message().find("Records[0].s3.object.key"), std::string::npos);
  EXPECT_FALSE(ParseS3Event(json::parse(
                                R"({"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"k",
                                    "sequencer":"xyz"}}}]})"))
                   .ok());
}

TEST(S3EventTest, DecodesKeys) {
  EXPECT_EQ(*DecodeS3EventKey("a+b%20c%2B"), "a b c+");
  EXPECT_FALSE(DecodeS3EventKey("abc%2").ok());
  EXPECT_FALSE(DecodeS3EventKey("%").ok());
}

TEST(SequencerTest, ComparesAsHexValuesPaddedWithLeadingZeros) {
  EXPECT_EQ(CompareSequencers("0055AED6DCD90281E5", "55AED6DCD90281E5"), 0);
  EXPECT_LT(CompareSequencers("0055AED6DCD90281E5", "0055AED6DCD90281F0"), 0);
  EXPECT_GT(CompareSequencers("1000", "FFF"), 0);  // longer value, not lexicographic
  EXPECT_EQ(CompareSequencers("abc", "ABC"), 0);
  EXPECT_EQ(PadSequencer("55aed6"), std::string(kSequencerWidth - 6, '0') + "55AED6");
  // Padded strings compare byte-wise as the values do (what DynamoDB conditions rely on).
  EXPECT_LT(PadSequencer("FFF"), PadSequencer("1000"));
}

// A DynamoDB Streams event as Lambda delivers it (NEW_AND_OLD_IMAGES), on the original
// stack's table: Store (S), Item (S), Count (N).
const char* kStreamEvent = R"({
  "Records": [
    {
      "eventID": "c4ca4238a0b923820dcc509a6f75849b",
      "eventName": "INSERT",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "eu-central-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1764084110,
        "Keys": {"Store": {"S": "Berlin"}, "Item": {"S": "Echo Plus"}},
        "NewImage": {"Store": {"S": "Berlin"}, "Item": {"S": "Echo Plus"}, "Count": {"N": "0"}},
        "SequenceNumber": "111100000000000000000001",
        "SizeBytes": 45,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/Inventory/stream/2026-11-25T00:00:00.000"
    },
    {
      "eventID": "c81e728d9d4c2f636f067f89cc14862c",
      "eventName": "MODIFY",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "eu-central-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1764084111,
        "Keys": {"Store": {"S": "Paris"}, "Item": {"S": "Echo Dot"}},
        "NewImage": {"Store": {"S": "Paris"}, "Item": {"S": "Echo Dot"}, "Count": {"N": "3"}},
        "OldImage": {"Store": {"S": "Paris"}, "Item": {"S": "Echo Dot"}, "Count": {"N": "0"}},
        "SequenceNumber": "111200000000000000000002",
        "SizeBytes": 80,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/Inventory/stream/2026-11-25T00:00:00.000"
    },
    {
      "eventID": "eccbc87e4b5ce2fe28308fd9f2a7baf3",
      "eventName": "REMOVE",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "eu-central-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1764084112,
        "Keys": {"Store": {"S": "Paris"}, "Item": {"S": "Echo Dot"}},
        "OldImage": {"Store": {"S": "Paris"}, "Item": {"S": "Echo Dot"}, "Count": {"N": "3"}},
        "SequenceNumber": "111300000000000000000003",
        "SizeBytes": 40,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/Inventory/stream/2026-11-25T00:00:00.000"
    }
  ]
})";

TEST(StreamEventTest, ParsesEveryRecord) {
  auto records = ParseStreamEvent(json::parse(kStreamEvent));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].event_id, "c4ca4238a0b923820dcc509a6f75849b");
  EXPECT_EQ((*records)[0].event_name, StreamEventName::kInsert);
  EXPECT_EQ((*records)[0].sequence_number, "111100000000000000000001");
  EXPECT_TRUE((*records)[0].old_image.is_null());
  EXPECT_EQ((*records)[0].keys["Store"]["S"], "Berlin");
  EXPECT_EQ((*records)[0].approximate_creation_time, 1764084110.0);
  EXPECT_EQ((*records)[1].event_name, StreamEventName::kModify);
  EXPECT_EQ((*records)[1].old_image["Count"]["N"], "0");
  EXPECT_EQ((*records)[2].event_name, StreamEventName::kRemove);
  EXPECT_TRUE((*records)[2].new_image.is_null());

  auto image = ReadInventoryImage((*records)[1].new_image);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->store, "Paris");
  EXPECT_EQ(image->item, "Echo Dot");
  EXPECT_EQ(image->count, 3);
}

TEST(StreamEventTest, RejectsBadRecordsAndImages) {
  EXPECT_FALSE(ParseStreamEvent(json::parse(R"({"Records":{}})")).ok());
  EXPECT_FALSE(ParseStreamEvent(json::parse(
                                    R"({"Records":[{"eventName":"UPSERT","dynamodb":{
                                        "SequenceNumber":"1","Keys":{}}}]})"))
                   .ok());
  EXPECT_FALSE(ParseStreamEvent(
                   json::parse(R"({"Records":[{"eventName":"INSERT","dynamodb":{"Keys":{}}}]})"))
                   .ok());
  EXPECT_FALSE(ReadInventoryImage(json::parse(R"({"Store":{"S":"B"}})")).ok());
  EXPECT_FALSE(
      ReadInventoryImage(json::parse(R"({"Store":{"S":"B"},"Item":{"S":"I"},"Count":{"S":"3"}})"))
          .ok());
  EXPECT_FALSE(
      ReadInventoryImage(json::parse(R"({"Store":{"S":"B"},"Item":{"S":"I"},"Count":{"N":"-1"}})"))
          .ok());
  EXPECT_FALSE(
      ReadInventoryImage(json::parse(R"({"Store":{"S":"B"},"Item":{"S":"I"},"Count":{"N":"2.5"}})"))
          .ok());
  auto no_count = ReadInventoryImage(json::parse(R"({"Store":{"S":"B"},"Item":{"S":"I"}})"));
  ASSERT_TRUE(no_count.ok());
  EXPECT_FALSE(no_count->count.has_value());
}

}  // namespace
}  // namespace stockwatch::lambda
