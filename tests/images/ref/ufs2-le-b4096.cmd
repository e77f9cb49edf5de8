# run in a directory holding the fixture tree as ./tree (tests/fixtures/mktree.sh --small tree)
makefs -t ffs -s 8m -o version=2,bsize=4096,fsize=512 -B le ufs2-le-b4096.img tree
