//! Image thumbnails (`?thumb=WxH`), made with the `image` crate in the image's own format.
//!
//! Sizes as PocketBase spells them: `WxH` crops to fill W×H from the center, `WxHt` from the
//! top, `WxHb` from the bottom, `WxHf` fits inside W×H without cropping (never enlarging),
//! `0xH` and `Wx0` resize to that height or width keeping the proportions. Either side is at
//! most [`MAX_SIDE`]. Only the sizes a field declares (`thumbs`) and [`ALWAYS`] are served.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};

/// The largest thumbnail side, in pixels.
pub const MAX_SIDE: u32 = 2000;
/// The size served for every image field, declared or not (PocketBase's admin UI uses it).
pub const ALWAYS: &str = "100x100";

/// How a thumbnail fits its box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fit {
    /// Fill the box, cropping the overflow: centered, from the top or from the bottom.
    Center,
    Top,
    Bottom,
    /// Fit inside the box.
    Inside,
}

/// A parsed `thumb=` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    width: u32,
    height: u32,
    fit: Fit,
}

impl Size {
    /// `None` for anything that is not a size PocketBase accepts.
    pub fn parse(spec: &str) -> Option<Size> {
        let (spec, fit) = match spec.as_bytes().last()? {
            b't' => (&spec[..spec.len() - 1], Fit::Top),
            b'b' => (&spec[..spec.len() - 1], Fit::Bottom),
            b'f' => (&spec[..spec.len() - 1], Fit::Inside),
            _ => (spec, Fit::Center),
        };
        let (w, h) = spec.split_once('x')?;
        let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(w) || !digits(h) {
            return None;
        }
        let (width, height) = (w.parse().ok()?, h.parse().ok()?);
        let valid = (width > 0 || height > 0) && width <= MAX_SIDE && height <= MAX_SIDE;
        // A `0` side only goes with the plain form.
        let plain_zero = (width == 0 || height == 0) && fit != Fit::Center;
        (valid && !plain_zero).then_some(Size { width, height, fit })
    }
}

/// The image formats thumbnails are made for, by file extension.
pub fn format_of(name: &str) -> Option<ImageFormat> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some(ImageFormat::Png),
        "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
        "gif" => Some(ImageFormat::Gif),
        "webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// The thumbnail of `bytes` (an image of `format`) at `size`, in the same format.
pub fn make(bytes: &[u8], format: ImageFormat, size: Size) -> Result<Vec<u8>, String> {
    let img = image::load_from_memory_with_format(bytes, format).map_err(|e| e.to_string())?;
    let thumb = resize(&img, size);
    let mut out = Cursor::new(Vec::new());
    let thumb = match format {
        // JPEG has no alpha channel.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(thumb.to_rgb8()),
        ImageFormat::WebP | ImageFormat::Gif => DynamicImage::ImageRgba8(thumb.to_rgba8()),
        _ => thumb,
    };
    thumb.write_to(&mut out, format).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

fn resize(img: &DynamicImage, size: Size) -> DynamicImage {
    let (w0, h0) = (img.width().max(1), img.height().max(1));
    let Size { width, height, fit } = size;
    let scaled = |num: u32, a: u32, b: u32| ((u64::from(num) * u64::from(a) / u64::from(b)) as u32).max(1);
    if width == 0 {
        return img.resize_exact(scaled(height, w0, h0), height, FilterType::Lanczos3);
    }
    if height == 0 {
        return img.resize_exact(width, scaled(width, h0, w0), FilterType::Lanczos3);
    }
    match fit {
        Fit::Inside if w0 <= width && h0 <= height => img.clone(),
        Fit::Inside => img.resize(width, height, FilterType::Lanczos3),
        Fit::Center => img.resize_to_fill(width, height, FilterType::Lanczos3),
        Fit::Top | Fit::Bottom => {
            // Scale to cover the box, then keep its top or bottom part.
            let cover_w = u64::from(width) * u64::from(h0) >= u64::from(height) * u64::from(w0);
            let (sw, sh) = if cover_w { (width, scaled(width, h0, w0)) } else { (scaled(height, w0, h0), height) };
            let scaled = img.resize_exact(sw.max(width), sh.max(height), FilterType::Lanczos3);
            let x = (scaled.width() - width) / 2;
            let y = if fit == Fit::Top { 0 } else { scaled.height() - height };
            scaled.crop_imm(x, y, width, height)
        }
    }
}

#[cfg(test)]
mod tests {
    use image::{GenericImageView, Rgba, RgbaImage};

    use super::*;

    #[test]
    fn sizes_parse_as_pocketbase_spells_them() {
        let s = |w, h, fit| Some(Size { width: w, height: h, fit });
        assert_eq!(Size::parse("100x50"), s(100, 50, Fit::Center));
        assert_eq!(Size::parse("100x50t"), s(100, 50, Fit::Top));
        assert_eq!(Size::parse("100x50b"), s(100, 50, Fit::Bottom));
        assert_eq!(Size::parse("100x50f"), s(100, 50, Fit::Inside));
        assert_eq!(Size::parse("0x50"), s(0, 50, Fit::Center));
        assert_eq!(Size::parse("100x0"), s(100, 0, Fit::Center));
        for bad in ["", "x", "0x0", "100", "100x", "ax1", "10x10z", "0x10f", "-1x10", "3000x10", "10x 10"] {
            assert_eq!(Size::parse(bad), None, "{bad:?}");
        }
    }

    /// A 40×20 image: left half red, right half blue; top row green.
    fn sample(format: ImageFormat) -> Vec<u8> {
        let img = RgbaImage::from_fn(40, 20, |x, y| match (x, y) {
            (_, 0) => Rgba([0, 255, 0, 255]),
            (x, _) if x < 20 => Rgba([255, 0, 0, 255]),
            _ => Rgba([0, 0, 255, 255]),
        });
        let mut out = Cursor::new(Vec::new());
        let img = DynamicImage::ImageRgba8(img);
        let img = if format == ImageFormat::Jpeg { DynamicImage::ImageRgb8(img.to_rgb8()) } else { img };
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn dims(bytes: &[u8], format: ImageFormat) -> (u32, u32) {
        image::load_from_memory_with_format(bytes, format).unwrap().dimensions()
    }

    #[test]
    fn thumbnails_have_the_requested_box_in_every_format() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::WebP] {
            let src = sample(format);
            let cases = [
                ("10x10", (10, 10)),
                ("10x10f", (10, 5)),
                ("100x100f", (40, 20)),
                ("0x10", (20, 10)),
                ("10x0", (10, 5)),
                ("8x8t", (8, 8)),
                ("100x100", (100, 100)),
            ];
            for (spec, want) in cases {
                let thumb = make(&src, format, Size::parse(spec).unwrap()).unwrap();
                assert_eq!(dims(&thumb, format), want, "{format:?} {spec}");
            }
        }
        assert!(make(b"not an image", ImageFormat::Png, Size::parse("1x1").unwrap()).is_err());
    }

    #[test]
    fn crops_keep_the_center_top_or_bottom() {
        let src = sample(ImageFormat::Png);
        let pixel = |spec: &str, x, y| {
            let t = make(&src, ImageFormat::Png, Size::parse(spec).unwrap()).unwrap();
            image::load_from_memory(&t).unwrap().get_pixel(x, y).0
        };
        // 20×20 from 40×20: the center crop straddles red and blue.
        assert_eq!(pixel("20x20", 2, 10), [255, 0, 0, 255]);
        assert_eq!(pixel("20x20", 17, 10), [0, 0, 255, 255]);
        // 40×10 from 40×20: the top keeps the green row, the bottom does not.
        assert_eq!(pixel("40x10t", 5, 0), [0, 255, 0, 255]);
        assert_eq!(pixel("40x10b", 5, 0), [255, 0, 0, 255]);
    }

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(format_of("a_1234567890.JPG"), Some(ImageFormat::Jpeg));
        assert_eq!(format_of("a_1234567890.webp"), Some(ImageFormat::WebP));
        assert_eq!(format_of("a_1234567890.txt"), None);
        assert_eq!(format_of("noext"), None);
    }
}
