//! What [`CountVectorizer`](crate::CountVectorizer) and [`TfidfVectorizer`](crate::TfidfVectorizer)
//! share: the methods they derive from their own `fit_transform` and `transform`.

/// Defines, inside a vectorizer's `impl`, `fit` and the two methods on raw texts from the
/// vectorizer's `fit_transform` and `transform` on tokenized documents.
macro_rules! derived_vectorizer_methods {
    () => {
        /// Learns from tokenized documents: [`fit_transform`](Self::fit_transform) without
        /// keeping the matrix.
        pub fn fit<D, S>(&mut self, docs: &[D]) -> Result<&mut Self>
        where
            D: AsRef<[S]> + Sync,
            S: AsRef<str> + Sync,
        {
            self.fit_transform(docs)?;
            Ok(self)
        }

        /// [`fit_transform`](Self::fit_transform) on raw texts split by `analyzer` (in parallel).
        pub fn fit_transform_texts<T, A>(&mut self, texts: &[T], analyzer: A) -> Result<CsrMatrix>
        where
            T: AsRef<str> + Sync,
            A: Fn(&str) -> Vec<String> + Sync,
        {
            self.fit_transform(&crate::count::analyze(texts, analyzer))
        }

        /// [`transform`](Self::transform) on raw texts split by `analyzer` (in parallel).
        pub fn transform_texts<T, A>(&self, texts: &[T], analyzer: A) -> Result<CsrMatrix>
        where
            T: AsRef<str> + Sync,
            A: Fn(&str) -> Vec<String> + Sync,
        {
            self.transform(&crate::count::analyze(texts, analyzer))
        }
    };
}
