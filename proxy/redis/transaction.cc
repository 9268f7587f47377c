#include "proxy/redis/transaction.h"

namespace corral::proxy {

void RedisTransaction::forwarded(redis::TransactionStep step) noexcept {
  switch (step) {
    case redis::TransactionStep::Multi:
      in_multi_ = true;
      break;
    case redis::TransactionStep::Exec:
    case redis::TransactionStep::Discard:
      end();
      break;
    // Inside MULTI the server refuses WATCH and queues UNWATCH: neither changes what is watched now.
    case redis::TransactionStep::Watch:
      if (!in_multi_) watching_ = true;
      break;
    case redis::TransactionStep::Unwatch:
      if (!in_multi_) watching_ = false;
      break;
    case redis::TransactionStep::None:
      break;
  }
}

}  // namespace corral::proxy
