//! Huffman coding of the vocabulary for hierarchical softmax (word2vec.c's
//! `CreateBinaryTree`): frequent words get short codes.

/// Codes and inner-node paths of every word of a vocabulary.
///
/// Word `w`'s path from the root visits inner nodes `points(w)` (indices into the
/// `vocab_size - 1` rows of the hierarchical-softmax output matrix) and branches by
/// `codes(w)` (0 or 1 at each node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuffmanTree {
    offsets: Vec<usize>,
    codes: Vec<u8>,
    points: Vec<u32>,
}

impl HuffmanTree {
    /// Builds the tree from word counts (any order; ties are broken by index).
    pub fn new(counts: &[u64]) -> Self {
        let n = counts.len();
        let mut tree = HuffmanTree { offsets: vec![0], codes: Vec::new(), points: Vec::new() };
        if n < 2 {
            tree.offsets.resize(n + 1, 0);
            return tree;
        }
        // Nodes 0..n are leaves, n..2n-1 inner nodes; two sorted queues give O(n log n).
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (counts[i], i));
        let mut weight: Vec<u64> = counts.to_vec();
        weight.resize(2 * n - 1, 0);
        let mut parent = vec![0usize; 2 * n - 1];
        let mut branch = vec![0u8; 2 * n - 1];
        let (mut leaf, mut inner) = (0usize, n);
        let mut pop = |next_inner: usize, weight: &[u64]| {
            let take_leaf = leaf < n && (inner >= next_inner || weight[order[leaf]] <= weight[inner]);
            if take_leaf {
                leaf += 1;
                order[leaf - 1]
            } else {
                inner += 1;
                inner - 1
            }
        };
        for node in n..2 * n - 1 {
            let a = pop(node, &weight);
            let b = pop(node, &weight);
            weight[node] = weight[a] + weight[b];
            parent[a] = node;
            parent[b] = node;
            branch[b] = 1;
        }
        let root = 2 * n - 2;
        let mut path_codes = Vec::new();
        let mut path_points = Vec::new();
        for word in 0..n {
            path_codes.clear();
            path_points.clear();
            let mut node = word;
            while node != root {
                path_codes.push(branch[node]);
                node = parent[node];
                path_points.push((node - n) as u32);
            }
            tree.codes.extend(path_codes.iter().rev());
            tree.points.extend(path_points.iter().rev());
            tree.offsets.push(tree.codes.len());
        }
        tree
    }

    /// Branch taken at each inner node on `word`'s path, root first.
    pub fn codes(&self, word: usize) -> &[u8] {
        &self.codes[self.offsets[word]..self.offsets[word + 1]]
    }

    /// Inner nodes on `word`'s path, root first.
    pub fn points(&self, word: usize) -> &[u32] {
        &self.points[self.offsets[word]..self.offsets[word + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_prefix_free_and_frequent_words_are_short() {
        let counts = [45, 13, 12, 16, 9, 5];
        let tree = HuffmanTree::new(&counts);
        let codes: Vec<&[u8]> = (0..counts.len()).map(|w| tree.codes(w)).collect();
        for (i, a) in codes.iter().enumerate() {
            for (j, b) in codes.iter().enumerate() {
                assert!(i == j || !b.starts_with(a), "{a:?} prefixes {b:?}");
            }
        }
        // The textbook example: lengths 1, 3, 3, 3, 4, 4.
        let lengths: Vec<usize> = codes.iter().map(|c| c.len()).collect();
        assert_eq!(lengths, [1, 3, 3, 3, 4, 4]);
        // Every path starts at the root, inner node n - 2.
        assert!((0..counts.len()).all(|w| tree.points(w)[0] == 4));
        let weighted: usize = counts.iter().zip(&lengths).map(|(c, l)| *c as usize * l).sum();
        assert_eq!(weighted, 224);
    }
}
