namespace MaskRcnn.Tests.Data;

/// <summary>Small VIA files of every flavour, written for these tests (each feature VIA writes, once).</summary>
static class ViaSamples
{
    /// <summary>VIA 1.x export: regions keyed "0", "1", …; string labels with stray case and spaces.</summary>
    public const string Export1 = """
        {"a.png123":{"fileref":"","size":123,"filename":"a.png","base64_img_data":"","file_attributes":{},
          "regions":{
            "0":{"shape_attributes":{"name":"polygon","all_points_x":[2,12,12,2,2],"all_points_y":[3,3,9,9,3]},"region_attributes":{"class":" Benign "}},
            "1":{"shape_attributes":{"name":"rect","x":20,"y":4,"width":6,"height":5},"region_attributes":{"class":"MALIGNANT"}},
            "2":{"shape_attributes":{"name":"circle","cx":10,"cy":20,"r":4},"region_attributes":{"class":"benign"}},
            "3":{"shape_attributes":{"name":"ellipse","cx":25,"cy":20,"rx":5,"ry":3},"region_attributes":{"class":"malignant"}},
            "4":{"shape_attributes":{"name":"point","cx":5,"cy":25},"region_attributes":{"class":"benign"}}}},
         "b.png99":{"fileref":"","size":99,"filename":"b.png","base64_img_data":"","file_attributes":{},"regions":{}}}
        """;

    /// <summary>VIA 2.x export: regions as a list; checkbox labels; rotated ellipse; polyline; size -1.</summary>
    public const string Export2 = """
        {"a.png-1":{"filename":"a.png","size":-1,"regions":[
            {"shape_attributes":{"name":"polygon","all_points_x":[2,12,12,2],"all_points_y":[3,3,9,9]},"region_attributes":{"type":{"benign":true,"malignant":false}}},
            {"shape_attributes":{"name":"ellipse","cx":25,"cy":20,"rx":5,"ry":3,"theta":1.5707963267948966},"region_attributes":{"type":{"malignant":true}}},
            {"shape_attributes":{"name":"polyline","all_points_x":[1,5,9],"all_points_y":[1,2,1]},"region_attributes":{"type":{"benign":true}}}],
          "file_attributes":{}}}
        """;

    /// <summary>VIA 2.x project: _via_settings, _via_img_metadata, _via_attributes with dropdown options.</summary>
    public const string Project2 = """
        {"_via_settings":{"ui":{},"core":{"buffer_size":18,"filepath":{},"default_filepath":""},"project":{"name":"lesions"}},
         "_via_img_metadata":{
           "a.png123":{"filename":"a.png","size":123,"regions":[
              {"shape_attributes":{"name":"rect","x":1,"y":1,"width":4,"height":3},"region_attributes":{"lesion":"malignant"}},
              {"shape_attributes":{"name":"polygon","all_points_x":[10,20,15],"all_points_y":[10,10,25]},"region_attributes":{"lesion":"benign"}}],
            "file_attributes":{}},
           "b.png5":{"filename":"b.png","size":5,"regions":[],"file_attributes":{}}},
         "_via_attributes":{"region":{"lesion":{"type":"dropdown","description":"","options":{"benign":"","malignant":""},"default_options":{}}},"file":{}}}
        """;

    /// <summary>VIA 3.x image project: shapes as [code, …]; labels as option ids (one checkbox with two ids).</summary>
    public const string Project3 = """
        {"project":{"pid":"__VIA_PROJECT_ID__","rev":"__VIA_PROJECT_REV_ID__","rev_timestamp":"__VIA_PROJECT_REV_TIMESTAMP__","pname":"p","creator":"VIA","created":1,"vid_list":["1","2"]},
         "config":{"file":{"loc_prefix":{"1":"","2":"","3":"","4":""}},"ui":{}},
         "attribute":{"1":{"aname":"class","anchor_id":"FILE1_Z0_XY1","type":3,"desc":"","options":{"0":"benign","1":"malignant"},"default_option_id":""}},
         "file":{"1":{"fid":"1","fname":"a.png","type":2,"loc":1,"src":""},"2":{"fid":"2","fname":"b.png","type":2,"loc":1,"src":""}},
         "metadata":{
           "1_a":{"vid":"1","flg":0,"z":[],"xy":[7,2,3,12,3,12,9,2,9],"av":{"1":"0"}},
           "1_b":{"vid":"1","flg":0,"z":[],"xy":[2,20,4,6,5],"av":{"1":"1"}},
           "1_c":{"vid":"1","flg":0,"z":[],"xy":[3,10,20,4],"av":{"1":"0"}},
           "1_d":{"vid":"1","flg":0,"z":[],"xy":[4,25,20,5,3],"av":{"1":"1"}},
           "1_e":{"vid":"1","flg":0,"z":[],"xy":[1,5,25],"av":{"1":"0"}},
           "1_f":{"vid":"1","flg":0,"z":[],"xy":[5,1,1,9,9],"av":{}},
           "1_g":{"vid":"1","flg":0,"z":[],"xy":[6,1,1,5,2,9,1],"av":{"1":"1"}},
           "1_h":{"vid":"1","flg":0,"z":[],"xy":[8,30,5,34,1,38,5,34,9],"av":{"1":"1"}},
           "1_i":{"vid":"1","flg":0,"z":[],"xy":[9,4,30,8,34,12,30],"av":{"1":"0,1"}}},
         "view":{"1":{"fid_list":["1"]},"2":{"fid_list":["2"]}}}
        """;
}
