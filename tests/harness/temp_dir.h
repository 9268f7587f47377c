// A private temporary directory that is removed, with everything in it, when its owner goes away.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace corral::testing {

/// Creates a fresh directory `<base>/<prefix>XXXXXX` (base: $TMPDIR when it is short enough for Unix
/// socket paths inside it, else /tmp). Throws HarnessError when it cannot.
/// Lifetime: the destructor removes the directory recursively; errors there are ignored.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix);
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// path() / name, without creating anything.
  std::filesystem::path file(std::string_view name) const { return path_ / name; }

 private:
  void remove() noexcept;
  std::filesystem::path path_;  // empty once moved from
};

/// Reads a whole file; an absent or unreadable file reads as "".
std::string read_file(const std::filesystem::path& path);
/// The last `max_lines` lines of a file, for error messages.
std::string tail_file(const std::filesystem::path& path, std::size_t max_lines = 30);
/// Writes `text` to `path`, replacing it. Throws HarnessError on failure.
void write_file(const std::filesystem::path& path, std::string_view text);

}  // namespace corral::testing
