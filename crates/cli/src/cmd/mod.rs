//! One module per command (or small family of commands).

pub mod images;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod ps;
pub mod pull;
pub mod run;
pub mod system;
