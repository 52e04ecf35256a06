//! Content codings: a stream compressed although the request asked for none (`Accept-Encoding:
//! identity`) is decoded as its pieces arrive, for every transport alike.
//!
//! gzip (and `x-gzip`), deflate (zlib, as RFC 9110 defines it) and br are decoded; any other
//! coding is named so the subscription can end CLOSED with it instead of parsing garbage.

use std::io::Write;

/// Decodes one response body's content coding, piece by piece.
pub(crate) enum Decoder {
    /// No coding: bytes pass through untouched.
    Identity,
    /// gzip.
    Gzip(Box<flate2::write::GzDecoder<Vec<u8>>>),
    /// deflate (a zlib stream).
    Deflate(Box<flate2::write::ZlibDecoder<Vec<u8>>>),
    /// Brotli.
    Brotli(Box<brotli_decompressor::DecompressorWriter<Vec<u8>>>),
}

impl Decoder {
    /// The decoder for a `Content-Encoding` value, or the coding that cannot be decoded.
    pub(crate) fn for_encoding(content_encoding: Option<&str>) -> Result<Self, String> {
        let coding = content_encoding.map(str::trim).unwrap_or("");
        Ok(
            if coding.is_empty() || coding.eq_ignore_ascii_case("identity") {
                Self::Identity
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                Self::Gzip(Box::new(flate2::write::GzDecoder::new(Vec::new())))
            } else if coding.eq_ignore_ascii_case("deflate") {
                Self::Deflate(Box::new(flate2::write::ZlibDecoder::new(Vec::new())))
            } else if coding.eq_ignore_ascii_case("br") {
                Self::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                    Vec::new(),
                    4096,
                )))
            } else {
                return Err(coding.to_owned());
            },
        )
    }

    /// Decodes `input`, handing what it yields to `out` (at once: a flushed piece of a
    /// compressed stream is an event that must not wait for the next one).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<(), std::io::Error> {
        let decoded = match self {
            Self::Identity => {
                out(input);
                return Ok(());
            }
            Self::Gzip(decoder) => {
                decoder.write_all(input)?;
                decoder.flush()?;
                decoder.get_mut()
            }
            Self::Deflate(decoder) => {
                decoder.write_all(input)?;
                decoder.flush()?;
                decoder.get_mut()
            }
            Self::Brotli(decoder) => {
                decoder.write_all(input)?;
                decoder.flush()?;
                decoder.get_mut()
            }
        };
        if !decoded.is_empty() {
            out(decoded);
            decoded.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(coding: &str, bytes: &[u8], step: usize) -> Vec<u8> {
        let mut decoder = Decoder::for_encoding(Some(coding)).unwrap();
        let mut out = Vec::new();
        for piece in bytes.chunks(step) {
            decoder
                .feed(piece, &mut |d| out.extend_from_slice(d))
                .unwrap();
        }
        out
    }

    #[test]
    fn each_coding_decodes_in_any_pieces_and_names_are_case_insensitive() {
        let text = b"data: hello\n\n".repeat(50);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&text).unwrap();
        let gzip = gzip.finish().unwrap();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&text).unwrap();
        let zlib = zlib.finish().unwrap();
        let mut br = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
        br.write_all(&text).unwrap();
        let br = br.into_inner();
        for step in [1, 7, 4096] {
            assert_eq!(decode_in_pieces("br", &br, step), text);
            assert_eq!(decode_in_pieces("gzip", &gzip, step), text);
            assert_eq!(decode_in_pieces("GZIP", &gzip, step), text);
            assert_eq!(decode_in_pieces("x-gzip", &gzip, step), text);
            assert_eq!(decode_in_pieces("Deflate", &zlib, step), text);
            assert_eq!(decode_in_pieces(" identity ", &text, step), text);
        }
    }

    #[test]
    fn a_flushed_piece_is_decoded_before_the_stream_goes_on() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(b"data: first\n\n").unwrap();
        encoder.flush().unwrap();
        let piece = std::mem::take(encoder.get_mut());
        let mut decoder = Decoder::for_encoding(Some("gzip")).unwrap();
        let mut out = Vec::new();
        decoder
            .feed(&piece, &mut |d| out.extend_from_slice(d))
            .unwrap();
        assert_eq!(out, b"data: first\n\n");
    }

    #[test]
    fn other_codings_are_named_and_garbage_is_an_error() {
        assert_eq!(
            Decoder::for_encoding(Some("zstd")).err(),
            Some("zstd".into())
        );
        assert_eq!(
            Decoder::for_encoding(Some("gzip, br")).err(),
            Some("gzip, br".into())
        );
        assert!(matches!(Decoder::for_encoding(None), Ok(Decoder::Identity)));
        let mut decoder = Decoder::for_encoding(Some("gzip")).unwrap();
        assert!(decoder.feed(b"not gzip at all", &mut |_| {}).is_err());
    }
}
