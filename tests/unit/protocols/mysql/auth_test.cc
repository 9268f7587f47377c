#include "protocols/mysql/auth.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <set>

#include "test_util.h"

namespace corral::mysql {
namespace {

// Scramble 0x01..0x14; vectors below were derived independently with Python's hashlib:
//   native: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))
//   sha2:   SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble)
std::string test_scramble() {
  std::string s;
  for (int i = 1; i <= 20; ++i) s.push_back(static_cast<char>(i));
  return s;
}

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// A second, direct implementation with OpenSSL's one-shot SHA1(), to cross-check the EVP code path.
std::string openssl_sha1(std::string_view data) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

TEST(MysqlNativePassword, PublishedHashOfPassword) {
  // PASSWORD('password') in MySQL 5.x / MariaDB.
  EXPECT_EQ(native_password_hash_text("password"), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
  EXPECT_EQ(native_password_hash_text(""), "");
  EXPECT_EQ(parse_native_password_hash("*2470c0c06dee42fd1618bb99005adca2ec9d1e19"), native_password_hash("password"));
  EXPECT_FALSE(parse_native_password_hash("2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19").has_value());
  EXPECT_FALSE(parse_native_password_hash("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1G").has_value());
  EXPECT_FALSE(parse_native_password_hash("*2470").has_value());
}

TEST(MysqlNativePassword, TokenMatchesIndependentVector) {
  const std::string token = native_password_token("password", test_scramble());
  EXPECT_EQ(test::hex(token), "c17d6009a5cb47e59f7483fcf05553bbbf7dd0d6");
  // Same token computed here directly with OpenSSL SHA1().
  const std::string stage1 = openssl_sha1("password");
  const std::string mask = openssl_sha1(test_scramble() + openssl_sha1(stage1));
  std::string expected(20, '\0');
  for (int i = 0; i < 20; ++i) expected[i] = static_cast<char>(stage1[i] ^ mask[i]);
  EXPECT_EQ(token, expected);
  EXPECT_EQ(native_password_token("", test_scramble()), "");
}

TEST(MysqlNativePassword, VerifyAgainstStoredHashAndPlain) {
  const std::string scramble = test_scramble();
  const std::string token = native_password_token("s3cret", scramble);
  const std::string stored = native_password_hash("s3cret");
  EXPECT_TRUE(verify_native_password(token, scramble, stored));
  EXPECT_TRUE(verify_native_password_plain(token, scramble, "s3cret"));
  EXPECT_FALSE(verify_native_password_plain(token, scramble, "s3cret2"));
  EXPECT_FALSE(verify_native_password(token, "another scramble....", stored));
  EXPECT_FALSE(verify_native_password(token.substr(1), scramble, stored));
  EXPECT_FALSE(verify_native_password("", scramble, stored));
  // Empty password: the client sends an empty token.
  EXPECT_TRUE(verify_native_password("", scramble, native_password_hash("")));
  EXPECT_FALSE(verify_native_password(token, scramble, native_password_hash("")));
}

TEST(MysqlNativePassword, RecoverSha1AndLogInToBackend) {
  const std::string client_scramble = test_scramble();
  const std::string token = native_password_token("hunter2", client_scramble);
  const std::optional<std::string> sha1_pw =
      recover_native_password_sha1(token, client_scramble, native_password_hash("hunter2"));
  ASSERT_TRUE(sha1_pw.has_value());
  EXPECT_EQ(*sha1_pw, openssl_sha1("hunter2"));
  // With SHA1(pw) corral answers a backend's different scramble exactly like a client would.
  const std::string backend_scramble = "ZYXWVUTSRQPONMLKJIHG";
  EXPECT_EQ(native_password_token_from_sha1(*sha1_pw, backend_scramble),
            native_password_token("hunter2", backend_scramble));
  EXPECT_FALSE(recover_native_password_sha1(token, client_scramble, native_password_hash("other")).has_value());
}

// mysql_old_password: the stored hashes are MariaDB's (mtr's main.set_password and main.change_user
// create accounts with them for 'test' and 'oldpw'); the tokens come from a Python model of the
// original 64-bit C arithmetic, an independent check of the 32-bit one here.
TEST(MysqlOldPassword, StoredHashesAreTheServers) {
  EXPECT_EQ(test::hex(old_password_hash("test")), "378b243e220ca493");
  EXPECT_EQ(test::hex(old_password_hash("oldpw")), "09301740536db389");
  EXPECT_EQ(test::hex(old_password_hash("a b\tc")), "7cd2b5942be28759");  // spaces and tabs do not count
  EXPECT_EQ(old_password_hash("a b\tc"), old_password_hash("abc"));
  EXPECT_EQ(parse_old_password_hash("378B243E220ca493"), old_password_hash("test"));
  EXPECT_FALSE(parse_old_password_hash("378b243e220ca49").has_value());
  EXPECT_FALSE(parse_old_password_hash("378b243e220ca49g").has_value());
  EXPECT_FALSE(parse_old_password_hash("*378b243e220ca493").has_value());
}

TEST(MysqlOldPassword, TokenMatchesIndependentVector) {
  EXPECT_EQ(old_password_token_from_hash(old_password_hash("test"), "abcdefgh12345678abcd"), "SY]MDUUA");
  // Only the scramble's first 8 bytes count.
  EXPECT_EQ(old_password_token_from_hash(old_password_hash("test"), "abcdefgh"), "SY]MDUUA");
  EXPECT_EQ(old_password_token_from_hash(old_password_hash("oldpw"), "ZYXWVUTS"), "I\\GO]]BR");
  EXPECT_EQ(old_password_token_from_hash("short", "ZYXWVUTS"), "");
}

TEST(MysqlOldPassword, VerifyWithAndWithoutTheTrailingNul) {
  const std::string stored = old_password_hash("oldpw");
  const std::string token = old_password_token_from_hash(stored, test_scramble());
  EXPECT_TRUE(verify_old_password(token, test_scramble(), stored));
  EXPECT_TRUE(verify_old_password(token + '\0', test_scramble(), stored));
  EXPECT_FALSE(verify_old_password(token, test_scramble(), old_password_hash("other")));
  EXPECT_FALSE(verify_old_password(token.substr(0, 7), test_scramble(), stored));
  EXPECT_FALSE(verify_old_password("", test_scramble(), stored));
  std::string other_scramble = test_scramble();
  other_scramble[0] = 'x';
  EXPECT_FALSE(verify_old_password(token, other_scramble, stored));
}

TEST(MysqlCachingSha2, TokenMatchesIndependentVector) {
  EXPECT_EQ(test::hex(caching_sha2_token("password", test_scramble())),
            "f7ab1c623a6e98dceab35e926290e5746a3141116115f4dd8ccca994393eccdd");
  EXPECT_EQ(caching_sha2_token("", test_scramble()), "");
}

TEST(MysqlCachingSha2, VerifyFastPath) {
  const std::string scramble = test_scramble();
  const std::string cached = caching_sha2_hash("pa55");
  EXPECT_EQ(cached.size(), kSha256Length);
  EXPECT_TRUE(verify_caching_sha2_token(caching_sha2_token("pa55", scramble), scramble, cached));
  EXPECT_FALSE(verify_caching_sha2_token(caching_sha2_token("pa56", scramble), scramble, cached));
  EXPECT_FALSE(verify_caching_sha2_token(caching_sha2_token("pa55", "x"), scramble, cached));
  EXPECT_FALSE(verify_caching_sha2_token("short", scramble, cached));
}

TEST(MysqlCachingSha2, XorPasswordRepeatsScramble) {
  const std::string scramble = "ab";
  const std::string x = xor_password_with_scramble("abc", scramble);
  EXPECT_EQ(x, std::string("\0\0\x02\x62", 4));  // "abc\0" ^ "abab"
}

const RsaKey& shared_key() {
  static const RsaKey key = [] {
    Result<RsaKey> k = RsaKey::generate(2048);
    EXPECT_TRUE(k.ok());
    return std::move(k).value();
  }();
  return key;
}

TEST(MysqlRsa, GenerateEncryptDecryptRoundTrip) {
  const RsaKey& key = shared_key();
  ASSERT_TRUE(key.valid());
  EXPECT_TRUE(key.has_private());
  const Result<std::string> pem = key.public_pem();
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(pem->rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  // The client only sees the PEM from AuthMoreData.
  Result<RsaKey> client_view = RsaKey::from_public_pem(*pem);
  ASSERT_TRUE(client_view.ok());
  EXPECT_FALSE(client_view->has_private());
  const std::string scramble = test_scramble();
  const Result<std::string> cipher = encrypt_password_rsa(*client_view, "correct horse", scramble);
  ASSERT_TRUE(cipher.ok());
  EXPECT_EQ(cipher->size(), 256u);
  const Result<std::string> plain = decrypt_password_rsa(key, *cipher, scramble);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, "correct horse");
  // OAEP is randomized: encrypting twice gives different ciphertexts.
  EXPECT_NE(*encrypt_password_rsa(*client_view, "correct horse", scramble), *cipher);
}

TEST(MysqlRsa, WrongScrambleOrGarbageFails) {
  const RsaKey& key = shared_key();
  const Result<RsaKey> pub = RsaKey::from_public_pem(*key.public_pem());
  const Result<std::string> cipher = encrypt_password_rsa(*pub, "pw", test_scramble());
  ASSERT_TRUE(cipher.ok());
  EXPECT_EQ(decrypt_password_rsa(key, *cipher, "different scramble!!").error(), Errc::CryptoError);
  EXPECT_EQ(decrypt_password_rsa(key, std::string(256, 'x'), test_scramble()).error(), Errc::CryptoError);
  EXPECT_EQ(pub->decrypt(*cipher).error(), Errc::CryptoError);  // no private half
  EXPECT_EQ(RsaKey::from_public_pem("not a pem").error(), Errc::CryptoError);
  EXPECT_EQ(RsaKey::from_private_pem("-----BEGIN PRIVATE KEY-----\nxx\n").error(), Errc::CryptoError);
  EXPECT_EQ(RsaKey().encrypt("x").error(), Errc::CryptoError);
}

TEST(MysqlRsa, PrivatePemRoundTrip) {
  const RsaKey& key = shared_key();
  const Result<std::string> pem = key.private_pem();
  ASSERT_TRUE(pem.ok());
  Result<RsaKey> loaded = RsaKey::from_private_pem(*pem);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded->public_pem(), *key.public_pem());
  RsaKey moved = std::move(loaded).value();
  EXPECT_TRUE(moved.valid());
}

TEST(MysqlScramble, GeneratedScramblesAreSafeAndFresh) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const Result<std::string> s = generate_scramble();
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->size(), kScrambleLength);
    for (const char c : *s) {
      EXPECT_NE(c, '\0');
      EXPECT_NE(c, '$');
      EXPECT_GT(static_cast<unsigned char>(c), 0);
      EXPECT_LT(static_cast<unsigned char>(c), 128);
    }
    seen.insert(*s);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(MysqlDigest, KnownValues) {
  EXPECT_EQ(test::hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(test::hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(unhex("00ff"), std::string("\0\xff", 2));
  EXPECT_TRUE(secure_equal("abc", "abc"));
  EXPECT_FALSE(secure_equal("abc", "abd"));
  EXPECT_FALSE(secure_equal("abc", "ab"));
}

}  // namespace
}  // namespace corral::mysql
