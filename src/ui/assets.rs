//! The page: plain HTML, CSS and JavaScript embedded in the binary (no build step, no CDN), so
//! it works offline. One page; the script switches between the board and a run's detail.

/// `/`: the page.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// `/app.css`.
pub const APP_CSS: &str = include_str!("assets/app.css");
/// `/app.js`.
pub const APP_JS: &str = include_str!("assets/app.js");
