#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace corral::redis {

/// Case-insensitive (ASCII) equality, for command names and option tokens such as "BLOCK".
bool iequals(std::string_view a, std::string_view b);

/// One complete client request framed by RequestScanner: the original bytes plus its arguments.
/// Arguments of a RESP request, and of an inline request without quotes, are views into the
/// scanned buffer (zero copy); an inline request with quotes decodes into a private arena.
/// Lifetime: bytes() and arg() point into the buffer passed to RequestScanner::scan and stay valid
/// until the caller changes or frees those bytes. Moving a Request keeps its views valid.
class Request {
 public:
  /// Bytes this request occupies at the front of the scanned buffer (consume them after use).
  std::size_t size() const { return bytes_.size(); }
  /// The original wire bytes of the request; forward them unchanged unless is_inline().
  std::string_view bytes() const { return bytes_; }
  /// True for an inline command ("GET k\r\n"): re-encode it with encode_request() to forward it.
  bool is_inline() const { return inline_; }
  /// True when the frame carries no command ("*0\r\n", "*-1\r\n", an empty inline line): redis-server
  /// consumes such frames silently, and so should the proxy.
  bool empty() const { return count_ == 0; }
  std::size_t arg_count() const { return count_; }
  /// Argument `i` (0 is the command name); `i` must be < arg_count().
  std::string_view arg(std::size_t i) const;
  /// The command name as sent (any case), or "" for an empty frame.
  std::string_view command() const { return count_ == 0 ? std::string_view{} : arg(0); }
  /// True when the command name equals `name` ignoring ASCII case.
  bool is_command(std::string_view name) const { return count_ != 0 && iequals(arg(0), name); }

 private:
  friend class RequestScanner;

  /// Where one argument lives: offsets relative to bytes_ (or to arena_ when decoded).
  struct Span {
    std::size_t offset;
    std::size_t length;
  };
  static constexpr std::size_t kInlineArgs = 8;  // GET/SET/HSET... fit without allocating

  void clear();
  /// Becomes a RESP request of `count` (<= kInlineArgs) arguments, already written to local_, within `bytes`.
  void set_local(std::string_view bytes, std::size_t count);
  void push(Span span);
  void reserve(std::size_t count);
  const Span& span(std::size_t i) const { return spilled_ ? heap_[i] : local_[i]; }

  std::string_view bytes_;               // original frame bytes in the caller's buffer
  std::array<Span, kInlineArgs> local_{};  // first arguments, no allocation
  std::vector<Span> heap_;               // all arguments once more than kInlineArgs
  std::string arena_;                    // decoded inline arguments (quotes/escapes only)
  std::size_t count_ = 0;                // number of arguments
  bool spilled_ = false;                 // arguments live in heap_
  bool inline_ = false;                  // framed as an inline command
  bool decoded_ = false;                 // spans index arena_ rather than bytes_
};

}  // namespace corral::redis
