#include "protocols/mysql/collations.h"

namespace corral::mysql {

std::string_view charset_of_collation(std::uint16_t id) noexcept {
  // The default collations clients send, and the other collations of the charsets they belong to
  // (MariaDB's INFORMATION_SCHEMA.COLLATIONS ids).
  switch (id) {
    case 1: case 84: return "big5";
    case 8: case 5: case 15: case 31: case 47: case 48: case 49: case 94: return "latin1";
    case 11: case 65: return "ascii";
    case 24: case 86: return "gb2312";
    case 28: case 87: return "gbk";
    case 33: case 83: return "utf8mb3";
    case 45: case 46: return "utf8mb4";
    case 63: return "binary";
    case 95: case 96: return "cp932";
    case 13: case 88: return "sjis";
    case 12: case 91: return "ujis";
    case 19: case 85: return "euckr";
    case 51: case 50: return "cp1251";
    case 57: case 59: return "cp1256";
    case 255: return "utf8mb4";  // MySQL 8's utf8mb4_0900_ai_ci
    default: break;
  }
  if (id >= 192 && id <= 215) return "utf8mb3";
  if (id >= 224 && id <= 247) return "utf8mb4";
  return {};
}

std::string_view refused_client_charset(std::uint16_t id) noexcept {
  // MariaDB 10.11's INFORMATION_SCHEMA.COLLATIONS ids of the four charsets.
  if (id == 35 || id == 90 || (id >= 128 && id <= 151) || id == 159 || (id >= 640 && id <= 642) || id == 1059 ||
      id == 1114 || id == 1152 || id == 1174) {
    return "ucs2";
  }
  if (id == 54 || id == 55 || (id >= 101 && id <= 124) || (id >= 672 && id <= 674) || id == 1078 || id == 1079 ||
      id == 1125 || id == 1147) {
    return "utf16";
  }
  if (id == 56 || id == 62 || id == 1080 || id == 1086) return "utf16le";
  if (id == 60 || id == 61 || (id >= 160 && id <= 183) || (id >= 736 && id <= 738) || id == 1084 || id == 1085 ||
      id == 1184 || id == 1206) {
    return "utf32";
  }
  return {};
}

bool is_default_collation(std::string_view charset, std::string_view collation) noexcept {
  // The charsets whose default is not <charset>_general_ci.
  constexpr std::string_view kOtherDefaults[] = {
      "latin1_swedish_ci", "big5_chinese_ci",   "gb2312_chinese_ci",   "gbk_chinese_ci",  "sjis_japanese_ci",
      "ujis_japanese_ci",  "cp932_japanese_ci", "eucjpms_japanese_ci", "euckr_korean_ci", "tis620_thai_ci",
      "swe7_swedish_ci",   "latin5_turkish_ci", "dec8_swedish_ci",     "hp8_english_ci",  "gb18030_chinese_ci"};
  if (charset == "binary") return collation == "binary";
  for (const std::string_view other : kOtherDefaults) {
    if (other.size() > charset.size() && other.starts_with(charset) && other[charset.size()] == '_') {
      return collation == other;
    }
  }
  return collation.size() == charset.size() + 11 && collation.starts_with(charset) &&
         collation.substr(charset.size()) == "_general_ci";
}

bool collation_belongs_to(std::string_view charset, std::string_view collation) noexcept {
  if (charset == "binary" || collation == "binary") return charset == collation;
  return collation.size() > charset.size() && collation.starts_with(charset) && collation[charset.size()] == '_';
}

}  // namespace corral::mysql
