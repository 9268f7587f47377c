#include "protocols/redis/encoder.h"

namespace corral::redis {

std::string_view reencode_request(const Request& request, std::string& storage) {
  storage.clear();
  encode_request(storage, request);
  return storage;
}

}  // namespace corral::redis
