//! Macros the crate's modules share.

/// Defines builder methods that each set one field and return the builder: for
/// `name => field: Type`, `name(mut self, field: Type) -> Self`, documented by the doc comment
/// written above the entry.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident => $field:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )*
    };
}
