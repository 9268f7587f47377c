// corral::mysql — the sans-IO MySQL/MariaDB client/server protocol codec. Both sides of corral use
// it: the client-facing server role and the backend-facing client role. Nothing here does I/O:
// functions look at bytes already buffered and answer NeedMore | result (+ bytes consumed) | Errc.
//
//   client ──► corral (server role)                          corral (client role) ──► backend
//   ──────────────────────────────                           ─────────────────────────────────
//   handshake.h  HandshakeV10 encode ─►                     ◄─ HandshakeV10 decode
//                ◄─ HandshakeResponse41 / SSLRequest decode  HandshakeResponse41 encode ─►
//   auth.h       verify native / caching_sha2 tokens,        tokens from SHA1(pw) / password,
//                recover SHA1(pw), RSA decrypt               RSA encrypt
//   packet.h     read_logical_packet: one command ◄─         PacketFramer: wire packets ◄─ relay ─►
//   compression.h  compressed packets (CLIENT_COMPRESS) around the packet stream, both directions
//   command.h    decode COM_* (statement-id rewrite) ─────────► encode COM_* / relay original bytes
//   response.h                                               ResponseScanner: phase of each backend
//                                                            packet, COMPLETE + final status flags
//   status_packets.h  OK / ERR / EOF, session-state tracking, make_err(...)
//   column.h     ColumnDefinition41, text rows, locally generated result sets
//   primitives.h Reader / Writer for int<n>, int<lenenc>, string<lenenc|NUL|EOF>
//   statement_classifier.h  COM_QUERY text ─► StatementTraits (state it leaves, LOCAL INFILE, KILL...)
//   collations.h collation id from a handshake ─► charset name
//
// Specification: MySQL "Client/Server Protocol" (dev.mysql.com/doc/dev/mysql-server, PAGE_PROTOCOL)
// and the MariaDB KB "Client/Server Protocol" for MariaDB's extensions.
#pragma once

#include "protocols/mysql/auth.h"
#include "protocols/mysql/collations.h"
#include "protocols/mysql/column.h"
#include "protocols/mysql/command.h"
#include "protocols/mysql/compression.h"
#include "protocols/mysql/constants.h"
#include "protocols/mysql/errors.h"
#include "protocols/mysql/handshake.h"
#include "protocols/mysql/packet.h"
#include "protocols/mysql/primitives.h"
#include "protocols/mysql/response.h"
#include "protocols/mysql/statement_classifier.h"
#include "protocols/mysql/status_packets.h"
