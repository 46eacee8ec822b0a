//! Aligned plain-text tables for `list` and `show`: a header row and data rows, columns separated
//! by two spaces, every column but the last padded to its widest cell, no trailing spaces.
//!
//! Widths count characters, not bytes, so ids and paths with non-ASCII letters still line up in a
//! terminal that shows one column per character (the common case for what ends up here).

/// A table under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Space between two columns.
const GAP: &str = "  ";

impl Table {
    /// A table with these column titles.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are kept and widen the table.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Whether the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, each ending with a newline.
    pub fn render(&self) -> String {
        let columns = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                if i > 0 {
                    line.push_str(GAP);
                }
                line.push_str(cell);
                if i + 1 < columns {
                    let pad = width.saturating_sub(cell.chars().count());
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn columns_are_aligned_without_trailing_spaces() {
        let mut table = Table::new(["ID", "NAME", "NOTE"]);
        table.push(vec!["1".into(), "short".into(), "".into()]);
        table.push(vec!["200".into(), "é-long-name".into(), "x".into()]);
        assert_eq!(
            table.render(),
            "ID   NAME         NOTE\n\
             1    short\n\
             200  é-long-name  x\n"
        );
    }

    #[test]
    fn ragged_rows() {
        let mut table = Table::new(["A"]);
        table.push(vec!["x".into(), "extra".into()]);
        table.push(Vec::new());
        assert_eq!(table.render(), "A\nx  extra\n\n");
        assert!(!table.is_empty());
        assert!(Table::new(["A"]).is_empty());
    }
}
