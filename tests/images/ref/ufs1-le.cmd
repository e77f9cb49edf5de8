# run in a directory holding the fixture tree as ./tree (tests/fixtures/mktree.sh --small tree)
makefs -t ffs -s 8m -o version=1 -B le ufs1-le.img tree
