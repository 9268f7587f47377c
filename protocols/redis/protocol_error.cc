#include "protocols/redis/protocol_error.h"

namespace corral::redis {

std::string_view to_string(ScanStatus status) {
  switch (status) {
    case ScanStatus::NeedMore: return "NeedMore";
    case ScanStatus::Frame: return "Frame";
    case ScanStatus::Error: return "Error";
  }
  return "?";
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidMultibulkLength: return "InvalidMultibulkLength";
    case ErrorCode::ArrayTooLong: return "ArrayTooLong";
    case ErrorCode::InvalidBulkLength: return "InvalidBulkLength";
    case ErrorCode::BulkTooLong: return "BulkTooLong";
    case ErrorCode::ExpectedDollar: return "ExpectedDollar";
    case ErrorCode::TooBigMultibulkCount: return "TooBigMultibulkCount";
    case ErrorCode::TooBigBulkCount: return "TooBigBulkCount";
    case ErrorCode::TooBigInlineRequest: return "TooBigInlineRequest";
    case ErrorCode::UnbalancedQuotes: return "UnbalancedQuotes";
    case ErrorCode::ExpectedLineFeed: return "ExpectedLineFeed";
    case ErrorCode::ExpectedCrlfAfterBulk: return "ExpectedCrlfAfterBulk";
    case ErrorCode::UnknownType: return "UnknownType";
    case ErrorCode::InvalidLength: return "InvalidLength";
    case ErrorCode::InvalidInteger: return "InvalidInteger";
    case ErrorCode::InvalidDouble: return "InvalidDouble";
    case ErrorCode::InvalidBoolean: return "InvalidBoolean";
    case ErrorCode::InvalidBigNumber: return "InvalidBigNumber";
    case ErrorCode::InvalidNull: return "InvalidNull";
    case ErrorCode::InvalidVerbatim: return "InvalidVerbatim";
    case ErrorCode::InvalidSimpleString: return "InvalidSimpleString";
    case ErrorCode::LineTooLong: return "LineTooLong";
    case ErrorCode::NestingTooDeep: return "NestingTooDeep";
    case ErrorCode::StreamedNotSupported: return "StreamedNotSupported";
  }
  return "?";
}

std::string ProtocolError::reply() const {
  std::string out = "-ERR Protocol error: ";
  out += message;
  out += "\r\n";
  return out;
}

}  // namespace corral::redis
