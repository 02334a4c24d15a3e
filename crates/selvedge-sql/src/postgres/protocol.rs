//! The PostgreSQL wire protocol (version 3), only as far as the proxy needs it: framing of
//! the startup packet and of tagged messages in both directions, and reading the few
//! messages whose content matters to a turn (queries, the extended protocol's Parse, Bind and
//! Execute, errors, command tags, transaction status).
//!
//! Invariant: nothing here rewrites a message. The proxy forwards the bytes it read exactly;
//! this module only looks at them. A message it does not know is `Other`, never an error,
//! so a client or server newer than this code still passes through.

use std::io::{self, Read, Write};

/// Length field of the startup packet that asks for TLS (`SSLRequest`).
pub(crate) const SSL_REQUEST: i32 = 80_877_103;
/// Asks for GSSAPI encryption (`GSSENCRequest`).
pub(crate) const GSSENC_REQUEST: i32 = 80_877_104;
/// Asks the server to cancel another connection's query (`CancelRequest`).
pub(crate) const CANCEL_REQUEST: i32 = 80_877_102;
/// Protocol 3.0 as the startup packet spells it.
pub(crate) const PROTOCOL_3: i32 = 196_608;
/// The largest message the proxy accepts; PostgreSQL's own limit is 1 GiB for a field, and a
/// length beyond this means the stream is not speaking the protocol.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1 << 30;
/// A startup packet is small: parameter names and values. PostgreSQL caps it at 10,000 bytes.
pub(crate) const MAX_STARTUP_BYTES: usize = 10_000;

/// What the first packet of a connection asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Startup {
    Ssl,
    GssEnc,
    Cancel,
    /// A session start, with its parameters (`user`, `database`, `application_name`, ...).
    Start(Vec<(String, String)>),
    /// A protocol version we do not speak.
    Unsupported(i32),
}

/// Reads one startup packet (length, then code, then body) into `buf`, whole.
/// `Ok(false)` means the peer closed the connection before sending anything.
pub(crate) fn read_startup(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut len_bytes = [0u8; 4];
    if !read_exact_or_eof(reader, &mut len_bytes)? {
        return Ok(false);
    }
    let len = i32::from_be_bytes(len_bytes);
    if len < 8 || len as usize > MAX_STARTUP_BYTES {
        return Err(invalid(format!("startup packet of `{len}` bytes")));
    }
    buf.clear();
    buf.extend_from_slice(&len_bytes);
    buf.resize(len as usize, 0);
    reader.read_exact(&mut buf[4..])?;
    Ok(true)
}

/// Reads the startup packet `read_startup` filled in.
pub(crate) fn parse_startup(packet: &[u8]) -> Startup {
    let code = i32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    match code {
        SSL_REQUEST => Startup::Ssl,
        GSSENC_REQUEST => Startup::GssEnc,
        CANCEL_REQUEST => Startup::Cancel,
        PROTOCOL_3 => {
            let mut params = Vec::new();
            let mut fields = Fields(&packet[8..]);
            while let Some(name) = fields.cstr() {
                if name.is_empty() {
                    break;
                }
                let value = fields.cstr().unwrap_or_default();
                params.push((name.to_owned(), value.to_owned()));
            }
            Startup::Start(params)
        }
        other => Startup::Unsupported(other),
    }
}

/// Reads one tagged message (tag byte, length, body) into `buf`, whole, and returns its tag.
/// `Ok(None)` means the peer closed the connection at a message boundary.
pub(crate) fn read_message(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Option<u8>> {
    let mut head = [0u8; 5];
    if !read_exact_or_eof(reader, &mut head)? {
        return Ok(None);
    }
    let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if len < 4 || len as usize > MAX_MESSAGE_BYTES {
        return Err(invalid(format!(
            "message `{}` claims `{len}` bytes",
            head[0].escape_ascii()
        )));
    }
    buf.clear();
    buf.extend_from_slice(&head);
    buf.resize(1 + len as usize, 0);
    reader.read_exact(&mut buf[5..])?;
    Ok(Some(head[0]))
}

/// The client messages whose content decides a turn or names a statement.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frontend<'a> {
    /// Simple query protocol: one or more statements in one message.
    Query(&'a str),
    /// Extended protocol: prepare `query` as `statement` (empty: the unnamed statement).
    Parse {
        statement: &'a str,
        query: &'a str,
    },
    /// Bind `statement`'s parameters into `portal`.
    Bind {
        portal: &'a str,
        statement: &'a str,
    },
    /// Run `portal`: the moment the server does the statement's work.
    Execute {
        portal: &'a str,
    },
    /// Forget a prepared statement (`b'S'`) or a portal (`b'P'`).
    Close {
        kind: u8,
        name: &'a str,
    },
    Terminate,
    Other,
}

/// Reads a client message `read_message` filled in.
pub(crate) fn parse_frontend(message: &[u8]) -> Frontend<'_> {
    let mut fields = Fields(&message[5..]);
    let parsed = match message[0] {
        b'Q' => fields.cstr().map(Frontend::Query),
        b'P' => fields.cstr().and_then(|statement| {
            Some(Frontend::Parse {
                statement,
                query: fields.cstr()?,
            })
        }),
        b'B' => fields.cstr().and_then(|portal| {
            Some(Frontend::Bind {
                portal,
                statement: fields.cstr()?,
            })
        }),
        b'E' => fields.cstr().map(|portal| Frontend::Execute { portal }),
        b'C' => fields.byte().and_then(|kind| {
            Some(Frontend::Close {
                kind,
                name: fields.cstr()?,
            })
        }),
        b'X' => Some(Frontend::Terminate),
        _ => None,
    };
    parsed.unwrap_or(Frontend::Other)
}

/// An `ErrorResponse` from the server, the fields a report shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerError {
    /// `ERROR`, `FATAL` or `PANIC` (the untranslated field when the server sends it).
    pub(crate) severity: String,
    /// The SQLSTATE, such as `40001` (serialization failure) or `40P01` (deadlock detected).
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The server messages the proxy reads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Backend<'a> {
    Error(ServerError),
    /// A statement finished; its tag (`UPDATE 1`, `COMMIT`, and `ROLLBACK` for a `COMMIT` of a
    /// failed transaction).
    CommandComplete(&'a str),
    /// The server waits for the next query; the transaction status is `I` (idle), `T` (in a
    /// transaction) or `E` (in a failed transaction).
    ReadyForQuery(u8),
    Other,
}

/// Reads a server message `read_message` filled in.
pub(crate) fn parse_backend(message: &[u8]) -> Backend<'_> {
    let mut fields = Fields(&message[5..]);
    let parsed = match message[0] {
        b'E' => Some(Backend::Error(parse_error_fields(fields))),
        b'C' => fields.cstr().map(Backend::CommandComplete),
        b'Z' => fields.byte().map(Backend::ReadyForQuery),
        _ => None,
    };
    parsed.unwrap_or(Backend::Other)
}

fn parse_error_fields(mut fields: Fields<'_>) -> ServerError {
    let mut error = ServerError {
        severity: String::new(),
        code: String::new(),
        message: String::new(),
    };
    let mut localized_severity = String::new();
    while let Some(kind) = fields.byte() {
        if kind == 0 {
            break;
        }
        let Some(value) = fields.cstr() else { break };
        match kind {
            b'V' => error.severity = value.to_owned(),
            b'S' => localized_severity = value.to_owned(),
            b'C' => error.code = value.to_owned(),
            b'M' => error.message = value.to_owned(),
            _ => {}
        }
    }
    if error.severity.is_empty() {
        error.severity = localized_severity;
    }
    error
}

/// A `FATAL` `ErrorResponse` the proxy sends a client itself, when it cannot serve it.
pub(crate) fn error_response(code: &str, message: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message),
    ] {
        body.push(kind);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    tagged(b'E', &body)
}

/// A whole tagged message: tag, length, body.
pub(crate) fn tagged(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(5 + body.len());
    message.push(tag);
    message.extend_from_slice(&(4 + body.len() as i32).to_be_bytes());
    message.extend_from_slice(body);
    message
}

/// Writes `bytes` and flushes, so a message the proxy composed is not left in a buffer.
pub(crate) fn send(writer: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    writer.write_all(bytes)?;
    writer.flush()
}

/// Null-terminated strings and bytes read off a message body; `None` at a truncated field.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn cstr(&mut self) -> Option<&'a str> {
        let end = self.0.iter().position(|&b| b == 0)?;
        let text = std::str::from_utf8(&self.0[..end]).ok()?;
        self.0 = &self.0[end + 1..];
        Some(text)
    }

    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }
}

/// `read_exact`, except that end of stream before the first byte is `Ok(false)`, not an error.
fn read_exact_or_eof(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn invalid(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not the PostgreSQL protocol: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cstrs(parts: &[&str]) -> Vec<u8> {
        parts.iter().flat_map(|p| p.bytes().chain([0])).collect()
    }

    #[test]
    fn startup_parameters_are_read_in_order() {
        let mut packet = Vec::new();
        let body = [
            PROTOCOL_3.to_be_bytes().to_vec(),
            cstrs(&["user", "app", "application_name", "t1", ""]),
        ]
        .concat();
        packet.extend_from_slice(&(4 + body.len() as i32).to_be_bytes());
        packet.extend_from_slice(&body);
        let mut buf = Vec::new();
        assert!(read_startup(&mut packet.as_slice(), &mut buf).unwrap());
        assert_eq!(
            parse_startup(&buf),
            Startup::Start(vec![
                ("user".into(), "app".into()),
                ("application_name".into(), "t1".into())
            ])
        );
        let ssl = [8i32.to_be_bytes(), SSL_REQUEST.to_be_bytes()].concat();
        assert!(read_startup(&mut ssl.as_slice(), &mut buf).unwrap());
        assert_eq!(parse_startup(&buf), Startup::Ssl);
    }

    #[test]
    fn a_closed_stream_is_not_an_error_but_a_cut_message_is() {
        let mut buf = Vec::new();
        assert_eq!(read_message(&mut &b""[..], &mut buf).unwrap(), None);
        let cut = tagged(b'Q', &cstrs(&["SELECT 1"]));
        let err = read_message(&mut &cut[..cut.len() - 2], &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let bogus = [b'Q', 0, 0, 0, 1];
        let err = read_message(&mut &bogus[..], &mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not the PostgreSQL protocol: message `Q` claims `1` bytes"
        );
    }

    #[test]
    fn client_messages_name_their_statements() {
        let mut buf = Vec::new();
        let stream = [
            tagged(b'Q', &cstrs(&["SELECT 1"])),
            tagged(
                b'P',
                &[cstrs(&["s1", "UPDATE t SET v = $1"]), vec![0, 0]].concat(),
            ),
            tagged(b'B', &[cstrs(&["", "s1"]), vec![0, 0, 0, 0, 0, 0]].concat()),
            tagged(b'E', &[cstrs(&[""]), vec![0, 0, 0, 0]].concat()),
            tagged(b'C', &[vec![b'S'], cstrs(&["s1"])].concat()),
            tagged(b'S', &[]),
            tagged(b'X', &[]),
        ]
        .concat();
        let mut reader = stream.as_slice();
        let mut seen = Vec::new();
        while let Some(_tag) = read_message(&mut reader, &mut buf).unwrap() {
            seen.push(format!("{:?}", parse_frontend(&buf)));
        }
        assert_eq!(
            seen,
            [
                r#"Query("SELECT 1")"#,
                r#"Parse { statement: "s1", query: "UPDATE t SET v = $1" }"#,
                r#"Bind { portal: "", statement: "s1" }"#,
                r#"Execute { portal: "" }"#,
                r#"Close { kind: 83, name: "s1" }"#,
                "Other",
                "Terminate",
            ]
        );
    }

    #[test]
    fn server_errors_keep_code_and_message() {
        let body = [
            cstrs(&["SERROR", "VERROR", "C40P01", "Mdeadlock detected", "Dmore"]),
            vec![0],
        ]
        .concat();
        let message = tagged(b'E', &body);
        assert_eq!(
            parse_backend(&message),
            Backend::Error(ServerError {
                severity: "ERROR".into(),
                code: "40P01".into(),
                message: "deadlock detected".into()
            })
        );
        assert_eq!(
            parse_backend(&tagged(b'C', &cstrs(&["ROLLBACK"]))),
            Backend::CommandComplete("ROLLBACK")
        );
        assert_eq!(
            parse_backend(&tagged(b'Z', b"E")),
            Backend::ReadyForQuery(b'E')
        );
        let ours = error_response("08006", "no such task");
        let Backend::Error(e) = parse_backend(&ours) else {
            panic!("not an error: {ours:?}")
        };
        assert_eq!(
            (e.severity.as_str(), e.code.as_str(), e.message.as_str()),
            ("FATAL", "08006", "no such task")
        );
    }
}
