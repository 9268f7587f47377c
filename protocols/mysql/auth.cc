#include "protocols/mysql/auth.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cmath>
#include <memory>

namespace corral::mysql {

namespace {

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out, &length, md, nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out), length);
}

// XOR of two equal-length strings (the hash sizes guarantee it at every call site).
std::string xor_bytes(std::string_view a, std::string_view b) {
  std::string out(a.size(), '\0');
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) out[i] = static_cast<char>(a[i] ^ b[i]);
  return out;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

BioPtr memory_bio(std::string_view data) {
  if (data.size() > static_cast<std::size_t>(INT32_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

Result<std::string> bio_contents(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  if (length <= 0 || data == nullptr) return Errc::CryptoError;
  return std::string(data, static_cast<std::size_t>(length));
}

/// RSA with OAEP padding through one of OpenSSL's two like-shaped operations (EVP_PKEY_encrypt or
/// EVP_PKEY_decrypt): asks for the output length, then runs it.
Result<std::string> rsa_oaep(EVP_PKEY* key, int (*init)(EVP_PKEY_CTX*),
                             int (*run)(EVP_PKEY_CTX*, unsigned char*, std::size_t*, const unsigned char*, std::size_t),
                             std::string_view input) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1) {
    return Errc::CryptoError;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t length = 0;
  if (run(ctx.get(), nullptr, &length, in, input.size()) != 1) return Errc::CryptoError;
  std::string out(length, '\0');
  if (run(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length, in, input.size()) != 1) {
    return Errc::CryptoError;
  }
  out.resize(length);
  return out;
}

}  // namespace

Result<std::string> generate_scramble() {
  unsigned char bytes[kScrambleLength];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Errc::CryptoError;
  std::string scramble(kScrambleLength, '\0');
  for (std::size_t i = 0; i < kScrambleLength; ++i) {
    // Clients copy the scramble as a C string and some parsers stop at '$': keep bytes in 1..127
    // and away from both (generate_user_salt does the same).
    auto b = static_cast<unsigned char>(bytes[i] & 0x7f);
    if (b == '\0' || b == '$') ++b;
    scramble[i] = static_cast<char>(b);
  }
  return scramble;
}

std::string sha1(std::string_view data) { return digest(EVP_sha1(), data); }
std::string sha256(std::string_view data) { return digest(EVP_sha256(), data); }

bool secure_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string native_password_token_from_sha1(std::string_view password_sha1, std::string_view scramble) {
  const std::string stage2 = sha1(password_sha1);
  std::string salted(scramble);
  salted.append(stage2);
  return xor_bytes(password_sha1, sha1(salted));
}

std::string native_password_token(std::string_view password, std::string_view scramble) {
  if (password.empty()) return {};
  return native_password_token_from_sha1(sha1(password), scramble);
}

std::string native_password_hash(std::string_view password) {
  if (password.empty()) return {};
  return sha1(sha1(password));
}

std::string native_password_hash_text(std::string_view password) {
  const std::string hash = native_password_hash(password);
  if (hash.empty()) return {};
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text = "*";
  for (const char c : hash) {
    const auto b = static_cast<unsigned char>(c);
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 0x0f]);
  }
  return text;
}

std::optional<std::string> parse_native_password_hash(std::string_view text) {
  if (text.size() != 1 + 2 * kSha1Length || text[0] != '*') return std::nullopt;
  std::string hash(kSha1Length, '\0');
  for (std::size_t i = 0; i < kSha1Length; ++i) {
    const int hi = hex_value(text[1 + 2 * i]);
    const int lo = hex_value(text[2 + 2 * i]);
    if (hi < 0 || lo < 0) return std::nullopt;
    hash[i] = static_cast<char>(hi << 4 | lo);
  }
  return hash;
}

std::optional<std::string> recover_native_password_sha1(std::string_view token, std::string_view scramble,
                                                        std::string_view stored_hash) {
  if (token.size() != kSha1Length || stored_hash.size() != kSha1Length) return std::nullopt;
  std::string salted(scramble);
  salted.append(stored_hash);
  std::string candidate = xor_bytes(token, sha1(salted));
  if (!secure_equal(sha1(candidate), stored_hash)) return std::nullopt;
  return candidate;
}

bool verify_native_password(std::string_view token, std::string_view scramble, std::string_view stored_hash) {
  if (stored_hash.empty()) return token.empty();
  return recover_native_password_sha1(token, scramble, stored_hash).has_value();
}

bool verify_native_password_plain(std::string_view token, std::string_view scramble, std::string_view password) {
  return verify_native_password(token, scramble, native_password_hash(password));
}

// mysql_old_password (MySQL 3.23's scheme, "Old Password Authentication"). Every step keeps only 31
// bits at the end, and sums, products, left shifts and XOR carry low bits only upwards, so 32-bit
// arithmetic gives what the original's wider integers give.
namespace {

constexpr std::uint32_t kOld31Bits = 0x7fffffff;
constexpr std::uint32_t kOldRandomModulus = 0x3fffffff;
constexpr std::size_t kOldScrambleBytes = 8;  // of the scramble, the part the old scheme reads

struct OldHash {
  std::uint32_t first;
  std::uint32_t second;
};

OldHash old_hash_words(std::string_view text) {
  std::uint32_t nr = 1345345333;
  std::uint32_t nr2 = 0x12345671;
  std::uint32_t add = 7;
  for (const char c : text) {
    if (c == ' ' || c == '\t') continue;
    const auto byte = static_cast<std::uint32_t>(static_cast<unsigned char>(c));
    nr ^= (((nr & 63) + add) * byte) + (nr << 8);
    nr2 += (nr2 << 8) ^ nr;
    add += byte;
  }
  return {nr & kOld31Bits, nr2 & kOld31Bits};
}

std::uint32_t big_endian_word(std::string_view bytes) {
  std::uint32_t word = 0;
  for (std::size_t i = 0; i < 4; ++i) word = word << 8 | static_cast<unsigned char>(bytes[i]);
  return word;
}

/// The old scheme's pseudo-random generator: two seeds below 2^30 - 1, each step a value in [0, 1).
class OldRandom {
 public:
  OldRandom(std::uint32_t seed1, std::uint32_t seed2)
      : seed1_(seed1 % kOldRandomModulus), seed2_(seed2 % kOldRandomModulus) {}
  double next() {
    seed1_ = static_cast<std::uint32_t>((std::uint64_t{seed1_} * 3 + seed2_) % kOldRandomModulus);
    seed2_ = static_cast<std::uint32_t>((std::uint64_t{seed1_} + seed2_ + 33) % kOldRandomModulus);
    return static_cast<double>(seed1_) / static_cast<double>(kOldRandomModulus);
  }

 private:
  std::uint32_t seed1_;
  std::uint32_t seed2_;
};

}  // namespace

std::string old_password_hash(std::string_view password) {
  const OldHash hash = old_hash_words(password);
  std::string out;
  for (const std::uint32_t word : {hash.first, hash.second}) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((word >> shift) & 0xff));
  }
  return out;
}

std::optional<std::string> parse_old_password_hash(std::string_view text) {
  if (text.size() != 2 * kOldPasswordHashLength) return std::nullopt;
  std::string hash(kOldPasswordHashLength, '\0');
  for (std::size_t i = 0; i < kOldPasswordHashLength; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    hash[i] = static_cast<char>(hi << 4 | lo);
  }
  return hash;
}

std::string old_password_token_from_hash(std::string_view stored_hash, std::string_view scramble) {
  if (stored_hash.size() != kOldPasswordHashLength) return {};
  const OldHash message = old_hash_words(scramble.substr(0, kOldScrambleBytes));
  OldRandom random(big_endian_word(stored_hash) ^ message.first, big_endian_word(stored_hash.substr(4)) ^ message.second);
  std::string token(kOldPasswordTokenLength, '\0');
  for (char& c : token) c = static_cast<char>(std::floor(random.next() * 31) + 64);
  const auto extra = static_cast<char>(std::floor(random.next() * 31));
  for (char& c : token) c = static_cast<char>(c ^ extra);
  return token;
}

bool verify_old_password(std::string_view token, std::string_view scramble, std::string_view stored_hash) {
  if (!token.empty() && token.back() == '\0') token.remove_suffix(1);
  if (stored_hash.size() != kOldPasswordHashLength || token.size() != kOldPasswordTokenLength) return false;
  return secure_equal(token, old_password_token_from_hash(stored_hash, scramble));
}

std::string caching_sha2_hash(std::string_view password) { return sha256(sha256(password)); }

std::string caching_sha2_token(std::string_view password, std::string_view scramble) {
  if (password.empty()) return {};
  const std::string stage1 = sha256(password);
  std::string salted = sha256(stage1);
  salted.append(scramble);
  return xor_bytes(stage1, sha256(salted));
}

bool verify_caching_sha2_token(std::string_view token, std::string_view scramble, std::string_view cached_hash) {
  if (token.size() != kSha256Length || cached_hash.size() != kSha256Length) return false;
  std::string salted(cached_hash);
  salted.append(scramble);
  const std::string stage1 = xor_bytes(token, sha256(salted));
  return secure_equal(sha256(stage1), cached_hash);
}

std::string xor_password_with_scramble(std::string_view password, std::string_view scramble) {
  std::string out(password);
  out.push_back('\0');
  if (scramble.empty()) return out;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ scramble[i % scramble.size()]);
  return out;
}

RsaKey& RsaKey::operator=(RsaKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(key_);
    key_ = other.key_;
    has_private_ = other.has_private_;
    other.key_ = nullptr;
    other.has_private_ = false;
  }
  return *this;
}

RsaKey::~RsaKey() { EVP_PKEY_free(key_); }

Result<RsaKey> RsaKey::generate(int bits) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1) {
    return Errc::CryptoError;
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &key) != 1) return Errc::CryptoError;
  return RsaKey(key, true);
}

Result<RsaKey> RsaKey::from_public_pem(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return Errc::CryptoError;
  // Any PEM public key form: "BEGIN PUBLIC KEY" (what servers send) or PKCS#1 "BEGIN RSA PUBLIC KEY".
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* decoder =
      OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", nullptr, "RSA", EVP_PKEY_PUBLIC_KEY, nullptr, nullptr);
  if (decoder == nullptr) return Errc::CryptoError;
  const int decoded = OSSL_DECODER_from_bio(decoder, bio.get());
  OSSL_DECODER_CTX_free(decoder);
  if (decoded != 1 || key == nullptr) {
    EVP_PKEY_free(key);
    return Errc::CryptoError;
  }
  return RsaKey(key, false);
}

Result<RsaKey> RsaKey::from_private_pem(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return Errc::CryptoError;
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return Errc::CryptoError;
  return RsaKey(key, true);
}

Result<std::string> RsaKey::public_pem() const {
  if (!key_) return Errc::CryptoError;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_) != 1) return Errc::CryptoError;
  return bio_contents(bio.get());
}

Result<std::string> RsaKey::private_pem() const {
  if (!key_ || !has_private_) return Errc::CryptoError;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Errc::CryptoError;
  }
  return bio_contents(bio.get());
}

Result<std::string> RsaKey::encrypt(std::string_view plaintext) const {
  if (!key_) return Errc::CryptoError;
  return rsa_oaep(key_, EVP_PKEY_encrypt_init, EVP_PKEY_encrypt, plaintext);
}

Result<std::string> RsaKey::decrypt(std::string_view ciphertext) const {
  if (!key_ || !has_private_) return Errc::CryptoError;
  return rsa_oaep(key_, EVP_PKEY_decrypt_init, EVP_PKEY_decrypt, ciphertext);
}

Result<std::string> encrypt_password_rsa(const RsaKey& public_key, std::string_view password,
                                         std::string_view scramble) {
  return public_key.encrypt(xor_password_with_scramble(password, scramble));
}

Result<std::string> decrypt_password_rsa(const RsaKey& private_key, std::string_view ciphertext,
                                         std::string_view scramble) {
  Result<std::string> plain = private_key.decrypt(ciphertext);
  if (!plain) return plain.error();
  std::string& text = plain.value();
  for (std::size_t i = 0; i < text.size() && !scramble.empty(); ++i) {
    text[i] = static_cast<char>(text[i] ^ scramble[i % scramble.size()]);
  }
  // The client appended a NUL before XOR-ing; a missing one means the wrong scramble or key.
  if (text.empty() || text.back() != '\0') return Errc::CryptoError;
  text.pop_back();
  return plain;
}

}  // namespace corral::mysql
