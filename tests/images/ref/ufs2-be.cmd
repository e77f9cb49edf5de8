# run in a directory holding the fixture tree as ./tree (tests/fixtures/mktree.sh --small tree)
makefs -t ffs -s 8m -o version=2 -B be ufs2-be.img tree
