#include "adapters/notify/curl_support.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace stockwatch::adapters::notify_internal {
namespace {

TEST(PrivateAddressTest, ClassifiesIpv4) {
  for (const char* address :
       {"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255",
        "172.16.0.1", "172.31.255.255", "192.168.0.1", "192.168.255.255", "169.254.169.254",
        "169.254.0.1", "100.64.0.1", "100.127.255.255"}) {
    EXPECT_EQ(IsPrivateAddress(std::string(address)), true) << address;
  }
  for (const char* address :
       {"8.8.8.8", "1.1.1.1", "9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0",
        "192.167.255.255", "192.169.0.0", "169.253.255.255", "169.255.0.0", "100.63.255.255",
        "100.128.0.0", "128.0.0.1", "93.184.216.34"}) {
    EXPECT_EQ(IsPrivateAddress(std::string(address)), false) << address;
  }
}

TEST(PrivateAddressTest, ClassifiesIpv6) {
  for (const char* address : {"::", "::1", "fc00::1", "fd12:3456:789a::1", "fdff:ffff::", "fe80::1",
                              "febf:ffff::1", "fe80::1ff:fe23:4567:890a"}) {
    EXPECT_EQ(IsPrivateAddress(std::string(address)), true) << address;
  }
  for (const char* address : {"2001:4860:4860::8888", "2606:4700:4700::1111", "fec0::1", "fb00::1",
                              "ff02::1", "::2:0:0:1", "2002:7f00:1::"}) {
    EXPECT_EQ(IsPrivateAddress(std::string(address)), false) << address;
  }
}

TEST(PrivateAddressTest, ClassifiesIpv4InIpv6) {
  for (const char* address :
       {"::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.1.2.3", "::ffff:192.168.1.1",
        "::ffff:169.254.169.254", "::ffff:100.64.0.1", "::ffff:0.0.0.0", "::ffff:172.16.5.4",
        "::127.0.0.1", "::10.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::127.0.0.1"}) {
    EXPECT_EQ(IsPrivateAddress(std::string(address)), true) << address;
  }
  for (const char* address : {"::ffff:8.8.8.8", "::ffff:100.128.0.1", "::8.8.8.8",
                              "64:ff9b::8.8.8.8", "64:ff9b:1::10.0.0.1"}) {
    EXPECT_EQ(IsPrivateAddress(std::string(address)), false) << address;
  }
}

TEST(PrivateAddressTest, NotAnAddress) {
  for (const char* text : {"", "localhost", "127.0.0.1:80", "[::1]", "10.0.0", "1.2.3.256"}) {
    EXPECT_EQ(IsPrivateAddress(std::string(text)), std::nullopt) << text;
  }
}

TEST(PrivateAddressTest, ClassifiesSocketAddresses) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  ASSERT_EQ(inet_pton(AF_INET, "192.168.7.1", &v4.sin_addr), 1);
  EXPECT_TRUE(IsPrivateAddress(reinterpret_cast<const sockaddr*>(&v4)));
  ASSERT_EQ(inet_pton(AF_INET, "203.0.113.9", &v4.sin_addr), 1);
  EXPECT_FALSE(IsPrivateAddress(reinterpret_cast<const sockaddr*>(&v4)));

  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr), 1);
  EXPECT_TRUE(IsPrivateAddress(reinterpret_cast<const sockaddr*>(&v6)));
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr), 1);
  EXPECT_FALSE(IsPrivateAddress(reinterpret_cast<const sockaddr*>(&v6)));

  sockaddr other{};
  other.sa_family = AF_UNIX;
  EXPECT_FALSE(IsPrivateAddress(&other));
}

TEST(PrivateAddressTest, ErrorNamesTheSetting) {
  EXPECT_EQ(PrivateAddressError("127.0.0.1"),
            "refusing to connect to private address 127.0.0.1 (set notify.allow_private_targets "
            "to allow)");
}

TEST(CurlErrorTest, PermanentErrorsPerProtocol) {
  for (CurlProtocol protocol : {CurlProtocol::kHttp, CurlProtocol::kSmtp}) {
    for (CURLcode code :
         {CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_PEER_FAILED_VERIFICATION,
          CURLE_SSL_CACERT_BADFILE, CURLE_LOGIN_DENIED, CURLE_UNKNOWN_OPTION}) {
      EXPECT_TRUE(IsPermanentCurlError(code, protocol)) << code;
    }
    for (CURLcode code : {CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
                          CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
                          CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR, CURLE_HTTP2_STREAM}) {
      EXPECT_FALSE(IsPermanentCurlError(code, protocol)) << code;
    }
  }
  EXPECT_TRUE(IsPermanentCurlError(CURLE_TOO_MANY_REDIRECTS, CurlProtocol::kHttp));
  EXPECT_TRUE(IsPermanentCurlError(CURLE_REMOTE_ACCESS_DENIED, CurlProtocol::kHttp));
  EXPECT_FALSE(IsPermanentCurlError(CURLE_USE_SSL_FAILED, CurlProtocol::kHttp));
  EXPECT_TRUE(IsPermanentCurlError(CURLE_USE_SSL_FAILED, CurlProtocol::kSmtp));
  EXPECT_FALSE(IsPermanentCurlError(CURLE_TOO_MANY_REDIRECTS, CurlProtocol::kSmtp));
}

TEST(TruncateUtf8Test, CutsOnCodePointBoundaryWithEllipsis) {
  bool cut = true;
  EXPECT_EQ(TruncateUtf8("short", 10, &cut), "short");
  EXPECT_FALSE(cut);
  EXPECT_EQ(TruncateUtf8("abcdef", 4, &cut), "abc\xe2\x80\xa6");
  EXPECT_TRUE(cut);
  // "é" is two bytes: never split.
  EXPECT_EQ(TruncateUtf8("\xc3\xa9\xc3\xa9\xc3\xa9", 2, &cut), "\xc3\xa9\xe2\x80\xa6");
  EXPECT_TRUE(cut);
  EXPECT_EQ(TruncateUtf8("\xc3\xa9\xc3\xa9", 2, &cut), "\xc3\xa9\xc3\xa9");
  EXPECT_FALSE(cut);
  EXPECT_EQ(TruncateUtf8("K\xf6ln", 10), "K\xef\xbf\xbdln");
}

}  // namespace
}  // namespace stockwatch::adapters::notify_internal
