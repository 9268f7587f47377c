#include "protocols/mysql/handshake.h"

#include <gtest/gtest.h>

#include "protocols/mysql/primitives.h"
#include "test_util.h"

namespace corral::mysql {
namespace {

using test::bytes;

constexpr CapabilityFlags kMysqlServerCaps =
    CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |
    CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS |
    CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
    CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF;
// MariaDB clears CLIENT_MYSQL and adds extended capabilities.
constexpr CapabilityFlags kMariaDbServerCaps = (kMysqlServerCaps & ~CLIENT_MYSQL) | MARIADB_CLIENT_PROGRESS |
                                               MARIADB_CLIENT_STMT_BULK_OPERATIONS |
                                               MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA;

const std::string kScramble = "abcdefghijklmnopqrst";

// HandshakeV10 written by hand field by field (Protocol::HandshakeV10).
std::string hand_written_handshake() {
  std::string p;
  p += bytes({0x0a});
  p += std::string("8.0.36", 7);                 // server version + NUL
  p += bytes({0x2a, 0x00, 0x00, 0x00});          // connection id 42
  p += "abcdefgh";                               // auth-plugin-data-part-1
  p += bytes({0x00});                            // filler
  p += bytes({0xff, 0xf7});                      // capability flags (lower 2 bytes)
  p += bytes({0xff});                            // character set 255 (utf8mb4_0900_ai_ci)
  p += bytes({0x02, 0x00});                      // status flags: autocommit
  p += bytes({0xff, 0xdf});                      // capability flags (upper 2 bytes)
  p += bytes({0x15});                            // auth plugin data length 21
  p += std::string(10, '\0');                    // reserved
  p += std::string("ijklmnopqrst", 12) + '\0';   // auth-plugin-data-part-2 (13 bytes)
  p += std::string("caching_sha2_password", 21) + '\0';
  return p;
}

TEST(MysqlHandshakeV10, DecodesHandWrittenMysql8Greeting) {
  const Result<HandshakeV10> hs = decode_handshake_v10(hand_written_handshake());
  ASSERT_TRUE(hs.ok()) << to_string(hs.error());
  EXPECT_EQ(hs->server_version, "8.0.36");
  EXPECT_EQ(hs->connection_id, 42u);
  EXPECT_EQ(hs->auth_plugin_data, kScramble);
  EXPECT_EQ(hs->capabilities, 0xdffff7ffULL);  // CLIENT_MYSQL set: no extended bits read
  EXPECT_EQ(hs->character_set, 255);
  EXPECT_EQ(hs->status_flags, SERVER_STATUS_AUTOCOMMIT);
  EXPECT_EQ(hs->auth_plugin_name, "caching_sha2_password");
}

TEST(MysqlHandshakeV10, EncodesTheSameBytes) {
  HandshakeV10 hs;
  hs.server_version = "8.0.36";
  hs.connection_id = 42;
  hs.auth_plugin_data = kScramble;
  hs.capabilities = 0xdffff7ffULL;
  hs.character_set = 255;
  hs.status_flags = SERVER_STATUS_AUTOCOMMIT;
  hs.auth_plugin_name = "caching_sha2_password";
  std::string out;
  encode_handshake_v10(out, hs);
  EXPECT_EQ(test::hex(out), test::hex(hand_written_handshake()));
}

TEST(MysqlHandshakeV10, MariaDbExtendedCapabilitiesRoundTrip) {
  HandshakeV10 hs;
  hs.server_version = "5.5.5-10.11.6-MariaDB-0+deb12u1";
  hs.connection_id = 0xdeadbeef;
  hs.auth_plugin_data = kScramble;
  hs.capabilities = kMariaDbServerCaps;
  hs.character_set = kCollationUtf8mb4GeneralCi;
  hs.status_flags = SERVER_STATUS_AUTOCOMMIT;
  hs.auth_plugin_name = std::string(kMysqlNativePassword);
  std::string out;
  encode_handshake_v10(out, hs);
  const Result<HandshakeV10> back = decode_handshake_v10(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->capabilities, kMariaDbServerCaps);
  EXPECT_EQ(back->server_version, hs.server_version);
  EXPECT_EQ(back->connection_id, hs.connection_id);
  EXPECT_EQ(back->auth_plugin_data, kScramble);
  EXPECT_EQ(back->auth_plugin_name, "mysql_native_password");
  // The extended bits sit in the last 4 of the 10 reserved bytes.
  const std::size_t reserved = 1 + hs.server_version.size() + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1;
  EXPECT_EQ(out.substr(reserved, 10), std::string(6, '\0') + bytes({0x1d, 0x00, 0x00, 0x00}));
}

TEST(MysqlHandshakeV10, NegativeCases) {
  std::string v9 = hand_written_handshake();
  v9[0] = 9;
  EXPECT_EQ(decode_handshake_v10(v9).error(), Errc::BadProtocolVersion);
  EXPECT_EQ(decode_handshake_v10("").error(), Errc::Truncated);
  const std::string full = hand_written_handshake();
  // Truncated anywhere before the optional tail is an exact error, never a crash.
  for (std::size_t cut = 1; cut < 1 + 7 + 4 + 8 + 1 + 2; ++cut) {
    const Errc errc = decode_handshake_v10(full.substr(0, cut)).error();
    EXPECT_TRUE(errc == Errc::Truncated || errc == Errc::MissingNul) << cut << " " << to_string(errc);
  }
  EXPECT_EQ(decode_handshake_v10(full.substr(0, 30)).error(), Errc::Truncated);
}

// Fuzzer find (corpus_handshake/crash-handshake-v10-length-without-plugin-auth): without
// CLIENT_PLUGIN_AUTH the auth-plugin-data length byte is filler; it must not size part 2.
TEST(MysqlHandshakeV10, LengthByteIgnoredWithoutPluginAuth) {
  HandshakeV10 hs;
  hs.server_version = "8.0.36";
  hs.auth_plugin_data = kScramble;
  hs.capabilities = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_MYSQL;
  std::string out;
  encode_handshake_v10(out, hs);
  const std::size_t length_at = 1 + 7 + 4 + 8 + 1 + 2 + 1 + 2 + 2;
  EXPECT_EQ(out[length_at], 0);
  out[length_at] = static_cast<char>(0xff);  // garbage in the filler
  out += "trailing";
  const Result<HandshakeV10> back = decode_handshake_v10(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->auth_plugin_data, kScramble);
  // And encode(decode(x)) is a fixed point even for an over-long part 2.
  HandshakeV10 odd = *back;
  odd.auth_plugin_data = std::string(300, 's');
  for (const CapabilityFlags plugin : {CapabilityFlags{0}, CLIENT_PLUGIN_AUTH}) {
    odd.capabilities = hs.capabilities | plugin;
    std::string e1;
    encode_handshake_v10(e1, odd);
    const Result<HandshakeV10> d1 = decode_handshake_v10(e1);
    ASSERT_TRUE(d1.ok());
    EXPECT_EQ(d1->auth_plugin_data.size(), plugin ? 8u + 246u : 20u);
    std::string e2;
    encode_handshake_v10(e2, *d1);
    EXPECT_EQ(e1, e2);
  }
}

// A real greeting captured from MariaDB 10.11.19 (local test server, this project's own run).
TEST(MysqlHandshakeV10, CapturedMariaDbGreeting) {
  const std::string hex =
      "0a352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531000a00000031375f5a2752495400fef7080200"
      "ff81150000000000001d0000004b5b656d71726528346c444c006d7973716c5f6e61746976655f70617373776f726400";
  std::string payload;
  for (std::size_t i = 0; i < hex.size(); i += 2) payload.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  const Result<HandshakeV10> hs = decode_handshake_v10(payload);
  ASSERT_TRUE(hs.ok());
  EXPECT_EQ(hs->server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
  EXPECT_EQ(hs->connection_id, 10u);
  EXPECT_EQ(hs->auth_plugin_data, "17_Z'RIT" "K[emqre(4lDL");
  EXPECT_EQ(hs->auth_plugin_name, "mysql_native_password");
  EXPECT_FALSE(hs->capabilities & CLIENT_MYSQL);
  EXPECT_TRUE(hs->capabilities & CLIENT_DEPRECATE_EOF);
  EXPECT_TRUE(hs->capabilities & CLIENT_SESSION_TRACK);
  EXPECT_TRUE(hs->capabilities & MARIADB_CLIENT_CACHE_METADATA);
  EXPECT_EQ(hs->character_set, 8);
  std::string again;
  encode_handshake_v10(again, *hs);
  EXPECT_EQ(again, payload);  // byte-identical re-encoding
}

HandshakeResponse41 sample_response(CapabilityFlags caps) {
  HandshakeResponse41 r;
  r.capabilities = caps;
  r.max_packet_size = 16u << 20;
  r.character_set = kCollationUtf8mb4GeneralCi;
  r.username = "app";
  r.auth_response = std::string(20, '\x11');
  r.database = "shop";
  r.auth_plugin_name = "mysql_native_password";
  r.connect_attrs = {{"_client_name", "libmariadb"}, {"_pid", "1234"}};
  return r;
}

TEST(MysqlHandshakeResponse41, RoundTripEachAuthResponseVariant) {
  const CapabilityFlags base = CLIENT_PROTOCOL_41 | CLIENT_CONNECT_WITH_DB | CLIENT_PLUGIN_AUTH |
                               CLIENT_CONNECT_ATTRS | CLIENT_TRANSACTIONS | CLIENT_LONG_PASSWORD;
  for (const CapabilityFlags variant :
       {CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SECURE_CONNECTION, CLIENT_SECURE_CONNECTION, CapabilityFlags{0}}) {
    HandshakeResponse41 r = sample_response(base | variant);
    if (variant == 0) r.auth_response = "oldstyle";  // NUL-terminated variant cannot carry NULs
    std::string out;
    encode_handshake_response41(out, r, kMysqlServerCaps);
    const Result<HandshakeResponse41> back = decode_handshake_response41(out, kMysqlServerCaps);
    ASSERT_TRUE(back.ok()) << capabilities_to_string(variant);
    EXPECT_EQ(back->capabilities, r.capabilities);
    EXPECT_EQ(back->max_packet_size, r.max_packet_size);
    EXPECT_EQ(back->character_set, r.character_set);
    EXPECT_EQ(back->username, "app");
    EXPECT_EQ(back->auth_response, r.auth_response);
    EXPECT_EQ(back->database, "shop");
    EXPECT_EQ(back->auth_plugin_name, "mysql_native_password");
    EXPECT_EQ(back->connect_attrs, r.connect_attrs);
    EXPECT_FALSE(is_ssl_request(out));
  }
}

TEST(MysqlHandshakeResponse41, HandWrittenLenencVariant) {
  std::string p;
  p += bytes({0x00, 0x82, 0x28, 0x00});  // PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | LENENC_CLIENT_DATA
  p += bytes({0x00, 0x00, 0x00, 0x01});  // max packet 16 MiB
  p += bytes({0x21});                    // utf8_general_ci
  p += std::string(23, '\0');
  p += std::string("root", 5);
  p += bytes({0x03, 0x01, 0x02, 0x03});  // lenenc auth response
  p += std::string("caching_sha2_password", 22);
  const Result<HandshakeResponse41> r = decode_handshake_response41(p, kMysqlServerCaps);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->capabilities, CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                                 CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);
  EXPECT_EQ(r->max_packet_size, 16u << 20);
  EXPECT_EQ(r->character_set, 0x21);
  EXPECT_EQ(r->username, "root");
  EXPECT_EQ(r->auth_response, bytes({1, 2, 3}));
  EXPECT_EQ(r->database, "");
  EXPECT_EQ(r->auth_plugin_name, "caching_sha2_password");
}

TEST(MysqlHandshakeResponse41, MariaDbExtendedClientCapabilities) {
  HandshakeResponse41 r = sample_response(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                                          MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS);
  std::string out;
  encode_handshake_response41(out, r, kMariaDbServerCaps);
  EXPECT_EQ(out.substr(9 + 19, 4), bytes({0x05, 0x00, 0x00, 0x00}));
  const Result<HandshakeResponse41> back = decode_handshake_response41(out, kMariaDbServerCaps);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->capabilities, r.capabilities);
  // A MySQL server (CLIENT_MYSQL set) ignores those bytes.
  EXPECT_EQ(decode_handshake_response41(out, kMysqlServerCaps)->capabilities, r.capabilities & 0xffffffffULL);
}

TEST(MysqlHandshakeResponse41, SslRequestIsDetected) {
  std::string out;
  encode_ssl_request(out, sample_response(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION), kMysqlServerCaps);
  EXPECT_EQ(out.size(), kSslRequestSize);
  EXPECT_TRUE(is_ssl_request(out));
  const Result<HandshakeResponse41> r = decode_handshake_response41(out, kMysqlServerCaps);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->capabilities & CLIENT_SSL);
  EXPECT_EQ(r->username, "");
  std::string no_ssl = out;
  no_ssl[1] = 0;  // clear CLIENT_SSL (bit 11)
  EXPECT_FALSE(is_ssl_request(no_ssl));
}

// A client sends its TLS ClientHello right behind the SSLRequest, without waiting: framing must take
// exactly the SSLRequest's 36 wire bytes however the stream is cut, and leave the rest for TLS.
TEST(MysqlHandshakeResponse41, SslRequestFramedAloneAtEverySplit) {
  HandshakeResponse41 request = sample_response(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                                                MARIADB_CLIENT_PROGRESS);
  std::string payload;
  encode_ssl_request(payload, request, kMariaDbServerCaps);
  std::string wire;
  append_packet(wire, 1, payload);
  ASSERT_EQ(wire.size(), kPacketHeaderSize + kSslRequestSize);
  const std::string client_hello = bytes({0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03});
  const std::string stream = wire + client_hello;
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    std::string scratch;
    const std::string_view first(stream.data(), split);
    const LogicalPacket early = read_logical_packet(first, {}, scratch);
    if (split < wire.size()) {
      EXPECT_EQ(early.status, FrameStatus::NeedMore) << "split " << split;
    } else {
      EXPECT_EQ(early.status, FrameStatus::Packet) << "split " << split;
    }
    const LogicalPacket whole = read_logical_packet(stream, {}, scratch);
    ASSERT_EQ(whole.status, FrameStatus::Packet);
    EXPECT_EQ(whole.consumed, wire.size()) << "the ClientHello bytes stay for TLS";
    EXPECT_EQ(whole.first_sequence_id, 1);
    EXPECT_TRUE(is_ssl_request(whole.payload));
    const Result<HandshakeResponse41> decoded = decode_handshake_response41(whole.payload, kMariaDbServerCaps);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->capabilities, request.capabilities | CLIENT_SSL);
    EXPECT_EQ(decoded->max_packet_size, request.max_packet_size);
    EXPECT_EQ(decoded->character_set, request.character_set);
  }
}

TEST(MysqlHandshakeResponse41, OnlyThirtyTwoBytesWithClientSslAreAnSslRequest) {
  std::string ssl;
  encode_ssl_request(ssl, sample_response(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION), kMysqlServerCaps);
  EXPECT_FALSE(is_ssl_request(ssl.substr(0, kSslRequestSize - 1)));
  EXPECT_FALSE(is_ssl_request(ssl + '\0'));
  EXPECT_FALSE(is_ssl_request(""));
  // The full response sent inside TLS carries CLIENT_SSL too, and is no SSLRequest.
  HandshakeResponse41 full = sample_response(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_SSL |
                                             CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_WITH_DB);
  std::string out;
  encode_handshake_response41(out, full, kMysqlServerCaps);
  EXPECT_FALSE(is_ssl_request(out));
  const Result<HandshakeResponse41> back = decode_handshake_response41(out, kMysqlServerCaps);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->capabilities & CLIENT_SSL);
  EXPECT_EQ(back->username, "app");
}

TEST(MysqlHandshakeResponse41, NegativeCases) {
  HandshakeResponse41 r = sample_response(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_CONNECT_WITH_DB |
                                          CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS);
  std::string out;
  encode_handshake_response41(out, r, kMysqlServerCaps);
  // Pre-4.1 (HandshakeResponse320) is not spoken.
  std::string old = out;
  old[1] = static_cast<char>(old[1] & ~0x02);
  EXPECT_EQ(decode_handshake_response41(old, kMysqlServerCaps).error(), Errc::Unsupported);
  // Attribute block over the cap.
  Limits small;
  small.max_connect_attrs = 8;
  EXPECT_EQ(decode_handshake_response41(out, kMysqlServerCaps, small).error(), Errc::LimitExceeded);
  // Truncated prefix and an auth length past the payload.
  EXPECT_EQ(decode_handshake_response41(out.substr(0, 20), kMysqlServerCaps).error(), Errc::Truncated);
  const std::size_t auth_at = 32 + r.username.size() + 1;
  std::string bad_len = out.substr(0, auth_at + 5);
  bad_len[auth_at] = 20;
  EXPECT_EQ(decode_handshake_response41(bad_len, kMysqlServerCaps).error(), Errc::LengthPastPayload);
  // Missing username terminator.
  EXPECT_EQ(decode_handshake_response41(out.substr(0, 34), kMysqlServerCaps).error(), Errc::MissingNul);
}

TEST(MysqlAuthSwitchRequest, RoundTripAndScramble) {
  AuthSwitchRequest req{"mysql_native_password", kScramble + '\0'};
  std::string out;
  encode_auth_switch_request(out, req);
  EXPECT_EQ(out, bytes({0xfe}) + std::string("mysql_native_password", 22) + kScramble + '\0');
  const Result<AuthSwitchRequest> back = decode_auth_switch_request(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->plugin_name, "mysql_native_password");
  EXPECT_EQ(scramble_from_plugin_data(back->plugin_data), kScramble);
  EXPECT_EQ(classify_auth_packet(out), AuthPacketKind::AuthSwitchRequest);
  // Protocol::OldAuthSwitchRequest: a lone 0xFE asks for mysql_old_password over the greeting's scramble.
  const Result<AuthSwitchRequest> old_switch = decode_auth_switch_request(bytes({0xfe}));
  ASSERT_TRUE(old_switch.ok());
  EXPECT_EQ(old_switch->plugin_name, "mysql_old_password");
  EXPECT_EQ(old_switch->plugin_data, "");
  EXPECT_EQ(decode_auth_switch_request(bytes({0xfe}) + "no-nul").error(), Errc::MissingNul);
  EXPECT_EQ(decode_auth_switch_request(bytes({0x01})).error(), Errc::UnexpectedPacket);
}

TEST(MysqlAuthMoreData, RoundTrip) {
  std::string out;
  encode_auth_more_data(out, bytes({0x04}));
  EXPECT_EQ(out, bytes({0x01, 0x04}));
  EXPECT_EQ(decode_auth_more_data(out).value(), bytes({0x04}));
  EXPECT_EQ(classify_auth_packet(out), AuthPacketKind::AuthMoreData);
  EXPECT_EQ(decode_auth_more_data("").error(), Errc::Truncated);
  EXPECT_EQ(decode_auth_more_data(bytes({0x02})).error(), Errc::UnexpectedPacket);
  EXPECT_EQ(classify_auth_packet(bytes({0x00})), AuthPacketKind::Ok);
  EXPECT_EQ(classify_auth_packet(bytes({0xff})), AuthPacketKind::Err);
  EXPECT_EQ(classify_auth_packet(bytes({0x42})), AuthPacketKind::Unknown);
  EXPECT_EQ(to_string(AuthPacketKind::AuthMoreData), "AuthMoreData");
}

TEST(MysqlComChangeUser, HandWrittenAndRoundTrip) {
  const CapabilityFlags caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                               CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
  std::string p = bytes({0x11});
  p += std::string("bob", 4);
  p += bytes({0x02, 0xaa, 0xbb});  // int<1> length even with the lenenc capability
  p += std::string("db1", 4);
  p += bytes({0x2d, 0x00});        // utf8mb4_general_ci
  p += std::string("mysql_native_password", 22);
  p += bytes({0x05, 0x01, 'k', 0x02, 'v', 'v'});
  const Result<COM_CHANGE_USER> change = decode_com_change_user(p, caps);
  ASSERT_TRUE(change.ok()) << to_string(change.error());
  EXPECT_EQ(change->username, "bob");
  EXPECT_EQ(change->auth_response, bytes({0xaa, 0xbb}));
  EXPECT_EQ(change->database, "db1");
  EXPECT_EQ(change->character_set, 45);
  EXPECT_EQ(change->auth_plugin_name, "mysql_native_password");
  ASSERT_EQ(change->connect_attrs.size(), 1u);
  EXPECT_EQ(change->connect_attrs[0].second, "vv");
  std::string out;
  encode_com_change_user(out, *change, caps);
  EXPECT_EQ(test::hex(out), test::hex(p));
  // Old clients stop after the schema ("if more data available").
  const Result<COM_CHANGE_USER> short_form = decode_com_change_user(p.substr(0, 1 + 4 + 3 + 4), caps);
  ASSERT_TRUE(short_form.ok());
  EXPECT_FALSE(short_form->character_set.has_value());
  EXPECT_EQ(decode_com_change_user(bytes({0x03}), caps).error(), Errc::UnexpectedPacket);
  EXPECT_EQ(decode_com_change_user(p.substr(0, 5), caps).error(), Errc::Truncated);
  EXPECT_EQ(decode_com_change_user(p.substr(0, 6), caps).error(), Errc::LengthPastPayload);
}

}  // namespace
}  // namespace corral::mysql
