#!/usr/bin/env python3
"""A raw XMPP client for tests: logs in over plain TCP (the test server has no TLS), then sends
every line of stdin as it is (stanzas the typed libraries refuse to build), and prints what the
server sends back. Directives: `#sleep S` waits S seconds; `#await TEXT` reads until the server
has sent TEXT (20 s at most; double quotes read as single ones: ejabberd writes attributes in
double quotes, Prosody in single ones). Usage: raw_xmpp.py HOST PORT USER PASSWORD < stanzas"""
import base64
import socket
import sys
import time

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port), timeout=5)


def read_until(marker):
    data = b""
    deadline = time.time() + 5
    while marker.encode() not in data:
        if time.time() > deadline:
            raise SystemExit(f"no {marker!r} from the server; got {data!r}")
        data += s.recv(65536)
    return data.decode("utf-8", "replace")


def open_stream():
    s.sendall(b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
              b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    return read_until("</stream:features>")


open_stream()
token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
s.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode())
read_until("success")
open_stream()
s.sendall(b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
          b"<resource>raw</resource></bind></iq>")
read_until("</iq>")
s.sendall(b"<presence/>")
received = b""
for line in sys.stdin:
    line = line.strip()
    if line.startswith("#sleep "):
        time.sleep(float(line.split()[1]))
    elif line.startswith("#await "):
        wanted = line[len("#await "):].encode()
        deadline = time.time() + 20
        while wanted not in received.replace(b'"', b"'"):
            if time.time() > deadline:
                raise SystemExit(f"no {wanted!r} from the server; got {received!r}")
            s.settimeout(max(0.1, deadline - time.time()))
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit(f"the server closed the stream before {wanted!r}")
            received += chunk
        s.settimeout(5)
    elif line:
        try:
            s.sendall(line.encode())
        except OSError:
            break  # the server ended the stream (what it sent is printed below)
time.sleep(1)
s.settimeout(0.5)
out = received
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
except OSError:  # a timeout: nothing more came; or the server closed the connection
    pass
sys.stdout.write(out.decode("utf-8", "replace"))
try:
    s.sendall(b"</stream:stream>")
except OSError:
    pass
s.close()
