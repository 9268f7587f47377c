// Authentication scrambles (Authentication Methods: Native Authentication, Caching_sha2_password).
//
//   mysql_native_password   token = SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))
//                           stored = SHA1(SHA1(pw)), shown as "*" + 40 upper-case hex digits
//                           Given stored and a valid token, SHA1(pw) = token XOR SHA1(scramble + stored),
//                           which is all corral needs to log in to a native-password backend.
//   mysql_old_password      (pre-4.1, MariaDB still accepts it with secure_auth=OFF) stored = two 31-bit
//                           words hashed from the password, shown as 16 hex digits; token = 8 bytes
//                           from a generator seeded with stored XOR the same hash of the scramble's first
//                           8 bytes. The stored hash alone makes every token: it is the password equivalent.
//   caching_sha2_password   fast path: token = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble)
//                           full path: RSA_PKCS1_OAEP(public key, (pw + NUL) XOR scramble), or the
//                           clear-text password over TLS.
//
// All byte strings are raw bytes in std::string. Comparisons of secrets are constant-time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/mysql/errors.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace corral::mysql {

inline constexpr std::size_t kScrambleLength = 20;
inline constexpr std::size_t kSha1Length = 20;
inline constexpr std::size_t kSha256Length = 32;

// caching_sha2_password exchange bytes (Caching_sha2_password information).
inline constexpr std::uint8_t kCachingSha2RequestPublicKey = 0x02;  // client -> server
inline constexpr std::uint8_t kCachingSha2FastAuthSuccess = 0x03;   // server AuthMoreData
inline constexpr std::uint8_t kCachingSha2PerformFullAuth = 0x04;   // server AuthMoreData

/// Returns a fresh 20-byte scramble from the OS CSPRNG, with bytes in 1..127 and never '$', as
/// servers generate them (clients treat the scramble as a C string). Errc::CryptoError if the RNG fails.
Result<std::string> generate_scramble();

std::string sha1(std::string_view data);
std::string sha256(std::string_view data);
/// Constant-time equality for secrets (false when the sizes differ).
bool secure_equal(std::string_view a, std::string_view b) noexcept;

// --- mysql_native_password ----------------------------------------------------------------------

/// Client token for `password`; empty for an empty password (what clients send).
std::string native_password_token(std::string_view password, std::string_view scramble);
/// Client token from SHA1(password) (what corral holds after recover_native_password_sha1).
std::string native_password_token_from_sha1(std::string_view password_sha1, std::string_view scramble);
/// Stored form SHA1(SHA1(password)), raw 20 bytes; empty for an empty password.
std::string native_password_hash(std::string_view password);
/// Stored form as text: "*" + 40 upper-case hex digits (PASSWORD()); empty for an empty password.
std::string native_password_hash_text(std::string_view password);
/// Parses "*<40 hex>" (either case) into the raw 20-byte hash; nullopt if malformed.
std::optional<std::string> parse_native_password_hash(std::string_view text);
/// Checks a client token against the stored raw double-SHA1 (empty stored hash = empty password).
bool verify_native_password(std::string_view token, std::string_view scramble, std::string_view stored_hash);
/// Checks a client token against a clear-text password.
bool verify_native_password_plain(std::string_view token, std::string_view scramble, std::string_view password);
/// Recovers SHA1(password) from a valid client token and the stored double-SHA1; nullopt if the token
/// does not verify (or the password is empty: there is nothing to recover).
std::optional<std::string> recover_native_password_sha1(std::string_view token, std::string_view scramble,
                                                        std::string_view stored_hash);

// --- mysql_old_password -------------------------------------------------------------------------

inline constexpr std::size_t kOldPasswordHashLength = 8;   // the stored hash, raw: two big-endian words
inline constexpr std::size_t kOldPasswordTokenLength = 8;  // the client's answer, plus a NUL on the wire

/// Stored form of `password`, raw 8 bytes (OLD_PASSWORD() prints it in hex); spaces and tabs in the
/// password do not count, as in the original scheme.
std::string old_password_hash(std::string_view password);
/// Parses the 16 hex digits of OLD_PASSWORD() (either case) into the raw 8-byte hash; nullopt if malformed.
std::optional<std::string> parse_old_password_hash(std::string_view text);
/// Client token (8 bytes, without the NUL that clients send after it) from the stored raw hash and
/// the scramble (only its first 8 bytes count).
std::string old_password_token_from_hash(std::string_view stored_hash, std::string_view scramble);
/// Checks a client token (with or without its trailing NUL) against the stored raw hash.
bool verify_old_password(std::string_view token, std::string_view scramble, std::string_view stored_hash);

// --- caching_sha2_password ----------------------------------------------------------------------

/// Fast-path client token for `password`; empty for an empty password.
std::string caching_sha2_token(std::string_view password, std::string_view scramble);
/// The server's cache entry: SHA256(SHA256(password)), raw 32 bytes.
std::string caching_sha2_hash(std::string_view password);
/// Checks a fast-path token against the cached SHA256(SHA256(password)).
bool verify_caching_sha2_token(std::string_view token, std::string_view scramble, std::string_view cached_hash);
/// (password + NUL) XOR scramble, repeating the scramble: the plaintext RSA-encrypted on the full path.
std::string xor_password_with_scramble(std::string_view password, std::string_view scramble);

/// An RSA key (public, or public + private) for the caching_sha2_password full path.
/// Move-only. Not thread-safe for concurrent use of one key object (give each worker its own copy
/// via PEM if needed; OpenSSL key objects are read-only after creation, but we do not promise it).
class RsaKey {
 public:
  RsaKey() noexcept = default;
  RsaKey(RsaKey&& other) noexcept : key_(other.key_), has_private_(other.has_private_) {
    other.key_ = nullptr;
    other.has_private_ = false;
  }
  RsaKey& operator=(RsaKey&& other) noexcept;
  RsaKey(const RsaKey&) = delete;
  RsaKey& operator=(const RsaKey&) = delete;
  ~RsaKey();

  /// Generates a key pair; corral as a server does this once at start-up (2048 bits takes ~0.1 s).
  static Result<RsaKey> generate(int bits = 2048);
  /// Loads a "-----BEGIN PUBLIC KEY-----" (or "BEGIN RSA PUBLIC KEY") PEM, as servers send it.
  static Result<RsaKey> from_public_pem(std::string_view pem);
  /// Loads a private key PEM (PKCS#8 or traditional RSA).
  static Result<RsaKey> from_private_pem(std::string_view pem);

  bool valid() const noexcept { return key_ != nullptr; }
  bool has_private() const noexcept { return has_private_; }
  /// The public half as "-----BEGIN PUBLIC KEY-----" PEM, what the server sends in AuthMoreData.
  Result<std::string> public_pem() const;
  /// The private key as PKCS#8 PEM.
  Result<std::string> private_pem() const;
  /// RSA_PKCS1_OAEP_PADDING encryption with the public key.
  Result<std::string> encrypt(std::string_view plaintext) const;
  /// RSA_PKCS1_OAEP_PADDING decryption with the private key.
  Result<std::string> decrypt(std::string_view ciphertext) const;

 private:
  RsaKey(evp_pkey_st* key, bool has_private) noexcept : key_(key), has_private_(has_private) {}
  evp_pkey_st* key_ = nullptr;
  bool has_private_ = false;
};

/// Client side of the full path: encrypts (password + NUL) XOR scramble with the server's key.
Result<std::string> encrypt_password_rsa(const RsaKey& public_key, std::string_view password,
                                         std::string_view scramble);
/// Server side of the full path: decrypts and un-XORs; returns the password without its NUL.
Result<std::string> decrypt_password_rsa(const RsaKey& private_key, std::string_view ciphertext,
                                         std::string_view scramble);

}  // namespace corral::mysql
