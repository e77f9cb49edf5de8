** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
BAD TYPE VALUE  I=40  OWNER=root MODE=100644
SIZE=3 MTIME=May  1 12:00 2020 
FILE=?

FIX? yes

BAD INODE NUMBER FOR '..' in DIR I=8 (/docs)
CURRENTLY POINTS TO I=40 (?), SHOULD POINT TO I=2 (/)
FIX? yes

** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
171 files, 472 used, 1519 free (7 frags, 189 blocks, 0.4% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
