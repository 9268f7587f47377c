#!/usr/bin/env python3
"""Writes the committed seed corpora for fuzz_redis_request and fuzz_redis_reply.

Run from this directory: python3 make_seeds.py. Each seed is a small, meaningful wire sample;
crash inputs found later are added to the same directories by hand (named crash-*)."""
import os

REQUEST = {
    "ping": b"*1\r\n$4\r\nPING\r\n",
    "get": b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
    "set_ex": b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n$2\r\nEX\r\n$2\r\n10\r\n",
    "pipeline": b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*1\r\n$4\r\nPING\r\n",
    "empty_arg": b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
    "binary_arg": b"*2\r\n$4\r\nECHO\r\n$6\r\n\r\n\x00\xff\r\n\r\n",
    "zero_and_null": b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n",
    "many_args": b"*12\r\n$4\r\nMSET\r\n" + b"".join(b"$2\r\nk%d\r\n" % (i % 10) for i in range(11)),
    "partial": b"*2\r\n$3\r\nGET\r\n$10\r\nabc",
    "inline_ping": b"PING\r\n",
    "inline_lf": b"GET k\n",
    "inline_spaces": b"  SET   a  b \r\n\r\n\n",
    "inline_quotes": b"SET k \"a b\" 'c d'\r\n",
    "inline_escapes": b"ECHO \"\\x41\\n\\r\\t\\b\\a\\\\\\\"\\q\" 'it\\'s'\r\n",
    "inline_mid_quote": b"ECHO ab\"cd\" a'b c'\r\n",
    "inline_unbalanced": b"ECHO \"abc\r\n",
    "inline_after_quote": b"ECHO \"a\"b\r\n",
    "inline_nul": b"ECHO a\x00b c\r\n",
    "inline_vtab": b"ECHO \x0bx x\x0c \"y\"\x0b\r\n",
    "mixed": b"PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\nGET \"k\"\n",
    "bad_count": b"*x\r\n",
    "count_overflow": b"*99999999999999999999\r\n",
    "count_leading_zero": b"*01\r\n",
    "not_dollar": b"*1\r\n:1\r\n",
    "bulk_negative": b"*1\r\n$-1\r\n",
    "bulk_overflow": b"*1\r\n$99999999999999999999\r\n",
    "bulk_huge": b"*1\r\n$600000000\r\n",
    "bulk_no_crlf": b"*1\r\n$4\r\nPINGxx",
    "cr_no_lf": b"*1\rX$4\r\nPING\r\n",
    "xread_block": b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n$1\r\ns\r\n$1\r\n$\r\n",
    "hello": b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n",
    "long_inline": b"ECHO " + b"a" * 100 + b"\r\n",
}

REPLY = {
    "ok": b"+OK\r\n",
    "error": b"-ERR unknown command 'x'\r\n",
    "integer": b":1000\r\n:-9223372036854775808\r\n",
    "bulk": b"$5\r\nhello\r\n",
    "empty_bulk": b"$0\r\n\r\n",
    "null_bulk": b"$-1\r\n",
    "null_array": b"*-1\r\n",
    "array": b"*3\r\n$3\r\nfoo\r\n:1\r\n$-1\r\n",
    "nested": b"*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n*0\r\n",
    "pipeline": b"+OK\r\n:1\r\n$1\r\nx\r\n*1\r\n+y\r\n-ERR e\r\n",
    "null": b"_\r\n",
    "double": b",3.14\r\n,-1.5E-3\r\n,inf\r\n,-inf\r\n,nan\r\n",
    "boolean": b"#t\r\n#f\r\n",
    "blob_error": b"!21\r\nSYNTAX invalid syntax\r\n",
    "verbatim": b"=15\r\ntxt:Some string\r\n",
    "big_number": b"(3492890328409238509324850943850943825024385\r\n",
    "map": b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
    "set": b"~3\r\n+a\r\n+b\r\n#t\r\n",
    "push_message": b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n",
    "resp2_subscribe": b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    "attribute": b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
    "attribute_inside": b"*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n",
    "empty_attribute": b"|0\r\n+OK\r\n",
    "hello_reply": b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n$5\r\nproto\r\n:3\r\n"
                   b"$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                   b"$7\r\nmodules\r\n*0\r\n",
    "deep": b"*1\r\n" * 10 + b":1\r\n",
    "partial": b"*2\r\n$5\r\nhel",
    "unknown_type": b"?x\r\n",
    "bad_integer": b":12a\r\n",
    "bad_verbatim": b"=3\r\ntxt\r\n",
    "streamed": b"*?\r\n$?\r\n",
    "lf_in_line": b"+a\nb\r\n",
    "bulk_no_crlf": b"$3\r\nabcd\r\n",
}


def write(directory, seeds):
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("corpus_request", REQUEST)
    write("corpus_reply", REPLY)
